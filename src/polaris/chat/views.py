"""Chat pages: the conversations with their unread counts, a room's history (paged back by
``seq``), the send box with a file picked from the drive, and a broadcast's acknowledgements by
unit with a reminder button. Rendered on the server from the same services as ``chat.api``; the
page's script (``static/js/chat.js``) adds live updates (WebSocket, with a long-poll fallback),
read receipts, typing and uploads into the drive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.chat import attachments, broadcasts, messages, rooms
from polaris.chat.models import BROADCAST, MODERATOR, OWNER, BroadcastAck
from polaris.chat.present import present
from polaris.chat.schemas import EventRead, UnitAcksRead
from polaris.chat.summaries import ack_rows, room_list
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import service as drive
from polaris.drive.sidebar import sidebar_of
from polaris.web.messages import N_
from polaris.web.pages import PageCaller, page
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)
#: What the page's script says, translated into the page's JSON block.
SCRIPT_TEXTS = {
    "typing": N_("Typing:"),
    "deleted": N_("Message deleted"),
    "failed": N_("Could not send the file."),
    "uploading": N_("Uploading…"),
    "sent": N_("File sent."),
}
PAGE = 50
#: Files of one's own space offered in the picker.
PICKER_FILES = 100


@dataclass(frozen=True)
class FileChoice:
    id: int
    name: str


@dataclass(frozen=True)
class Shown:
    """A message as the page lists it: the event, its sender's name and, for a broadcast, the
    viewer's own acknowledgement state and (moderators) the table by unit."""

    event: EventRead
    sender: str
    pending_ack: bool
    table: list[UnitAcksRead]


def _picker(
    session: Session, actor: Actor, instance: CurrentInstance, caller: PageCaller
) -> tuple[int, list[FileChoice]]:
    own = sidebar_of(session=session, actor=actor, settings=instance.settings)[0]
    _, listing = drive.list_children(
        session=session,
        actor=actor,
        context=caller.context,
        folder_id=own.root_id,
        sort="modified",
        descending=True,
        limit=PICKER_FILES,
    )
    files = [
        FileChoice(located.node.id, located.node.name)
        for located in listing.items
        if not located.is_folder
    ]
    return own.root_id, files


@router.get("/chat")
def conversations(
    request: Request, caller: PageCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    with transaction(session, read_only=True):
        listed = room_list(session, caller.actor)
    return page(
        request,
        caller,
        "chat.html",
        [],
        rooms=listed.rooms,
        chat_unread=listed.unread_total,
        position=listed.position,
        room=None,
        texts=SCRIPT_TEXTS,
    )


@router.get("/chat/{room_id}")
def room_page(
    room_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    before: int | None = None,
) -> Response:
    context = caller.context
    with transaction(session, read_only=True):
        listed = room_list(session, caller.actor)
        history = messages.history(
            session=session,
            actor=caller.actor,
            context=context,
            room_id=room_id,
            before=before,
            limit=PAGE,
        )
        room = next(r for r in listed.rooms if r.id == room_id)
        shown, names = present(session, history.events, caller.actor.user_id)
        moderator = room.role in (MODERATOR, OWNER)
        pending = _pending_acks(session, caller.actor.user_id, [e.id for e in history.events])
        items = []
        for item, event in zip(history.events, shown, strict=True):
            table: list[UnitAcksRead] = []
            if (
                room.kind == BROADCAST
                and moderator
                and item.kind in ("text", "notice", "attachment")
                and not item.redacted
            ):
                table = ack_rows(
                    session,
                    broadcasts.acknowledgements(
                        session=session,
                        actor=caller.actor,
                        context=context,
                        event_key=item.event_key,
                    ),
                )
            items.append(
                Shown(event, names.get(item.sender_id or 0, ""), item.id in pending, table)
            )
        root_id, files = _picker(session, caller.actor, instance, caller)
    return page(
        request,
        caller,
        "chat.html",
        [],
        rooms=listed.rooms,
        chat_unread=listed.unread_total,
        position=listed.position,
        room=room,
        items=items,
        more=history.more,
        oldest=history.events[0].seq if history.events else None,
        files=files,
        root_id=root_id,
        may_send=room.kind != BROADCAST or moderator,
        names=names,
        texts=SCRIPT_TEXTS,
    )


def _pending_acks(session: Session, user_id: int, event_ids: list[int]) -> set[int]:
    if not event_ids:
        return set()
    return set(
        session.scalars(
            select(BroadcastAck.event_id).where(
                BroadcastAck.user_id == user_id,
                BroadcastAck.event_id.in_(event_ids),
                BroadcastAck.acknowledged_at.is_(None),
            )
        )
    )


def back(room_id: int) -> RedirectResponse:
    return RedirectResponse(f"/chat/{room_id}", status_code=303)


@router.post("/chat/{room_id}/send")
def send(
    room_id: Id,
    caller: PageCaller,
    session: DbSession,
    body: Annotated[str, Form(max_length=64_000)],
) -> Response:
    with transaction(session):
        messages.send_text(
            session=session, actor=caller.actor, context=caller.context, room_id=room_id, body=body
        )
    return back(room_id)


@router.post("/chat/{room_id}/attach")
def attach(
    room_id: Id,
    caller: PageCaller,
    session: DbSession,
    node_id: Annotated[int, Form(ge=1, le=2**53)],
    caption: Annotated[str, Form(max_length=64_000)] = "",
) -> Response:
    with transaction(session):
        attachments.send_attachment(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            node_id=node_id,
            caption=caption or None,
        )
    return back(room_id)


@router.post("/chat/{room_id}/acknowledge/{event_key}")
def acknowledge(room_id: Id, event_key: str, caller: PageCaller, session: DbSession) -> Response:
    with transaction(session):
        broadcasts.acknowledge(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
    return back(room_id)


@router.post("/chat/{room_id}/remind/{event_key}")
def remind(room_id: Id, event_key: str, caller: PageCaller, session: DbSession) -> Response:
    with transaction(session):
        broadcasts.remind(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
    return back(room_id)


@router.post("/chat/new/group")
def new_group(
    caller: PageCaller, session: DbSession, name: Annotated[str, Form(max_length=1000)]
) -> Response:
    with transaction(session):
        room = rooms.create_group(
            session=session, actor=caller.actor, context=caller.context, name=name
        )
        room_id = room.id
    return back(room_id)
