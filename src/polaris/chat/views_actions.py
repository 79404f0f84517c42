"""The chat page's forms beyond sending: start a direct conversation, invite into a group,
accept or decline an invitation, edit and delete a message, rename a group and remove a member.

The person forms take either ``user_id`` (a button of the candidates list) or what was typed
into the picker with its ``person_ref`` (``chat.people``): a name that resolves to nobody or to
several people sends the browser back to the page listing the candidates.

Each is one call of the services the JSON API uses (``chat.rooms``, ``chat.messages``), which
decide through ``polaris.access`` and audit; a refusal answers with the error page like every
other page form.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.chat import messages, rooms
from polaris.chat.people import picked_person
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.web.i18n import pick_language
from polaris.web.pages import PageCaller
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)
UserId = Annotated[int, Form(ge=1, le=2**53)]
MaybeUserId = Annotated[int | None, Form(ge=1, le=2**53)]
Typed = Annotated[str, Form(max_length=200)]
Ref = Annotated[str, Form(max_length=40)]


def _to(room_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/chat/{room_id}{anchor}", status_code=303)


def _candidates(path: str, typed: str) -> RedirectResponse:
    """Back to the page listing the people ``typed`` matches (none or several)."""
    return RedirectResponse(f"{path}?{urlencode({'people': typed})}#people", status_code=303)


@router.post("/chat/new/direct")
def new_direct(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    user_id: MaybeUserId = None,
    people: Typed = "",
    person_ref: Ref = "",
) -> Response:
    """The direct conversation with the person picked (the existing one if there is one)."""
    with transaction(session):
        if user_id is None:
            user_id = picked_person(
                session,
                caller.actor,
                typed=people,
                ref=person_ref,
                language=pick_language(request),
            )
        if user_id is None:
            return _candidates("/chat", people)
        room = rooms.create_direct(
            session=session, actor=caller.actor, context=caller.context, other_user_id=user_id
        )
        room_id = room.id
    return _to(room_id)


@router.post("/chat/{room_id}/invite")
def invite(
    room_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    user_id: MaybeUserId = None,
    people: Typed = "",
    person_ref: Ref = "",
) -> Response:
    with transaction(session):
        if user_id is None:
            user_id = picked_person(
                session,
                caller.actor,
                typed=people,
                ref=person_ref,
                language=pick_language(request),
            )
        if user_id is None:
            return _candidates(f"/chat/{room_id}", people)
        rooms.invite(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            user_id=user_id,
        )
    return _to(room_id)


@router.post("/chat/{room_id}/join")
def join(room_id: Id, caller: PageCaller, session: DbSession) -> Response:
    with transaction(session):
        rooms.join(session=session, actor=caller.actor, context=caller.context, room_id=room_id)
    return _to(room_id)


@router.post("/chat/{room_id}/leave")
def leave(room_id: Id, caller: PageCaller, session: DbSession) -> Response:
    """Decline an invitation, or leave a group."""
    with transaction(session):
        rooms.leave(session=session, actor=caller.actor, context=caller.context, room_id=room_id)
    return RedirectResponse("/chat", status_code=303)


@router.post("/chat/{room_id}/edit/{event_key}")
def edit(
    room_id: Id,
    event_key: str,
    caller: PageCaller,
    session: DbSession,
    body: Annotated[str, Form(max_length=64_000)],
) -> Response:
    with transaction(session):
        messages.edit(
            session=session,
            actor=caller.actor,
            context=caller.context,
            event_key=event_key,
            body=body,
        )
    return _to(room_id, f"#m-{event_key}")


@router.post("/chat/{room_id}/delete/{event_key}")
def delete(room_id: Id, event_key: str, caller: PageCaller, session: DbSession) -> Response:
    with transaction(session):
        messages.redact(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
    return _to(room_id)
