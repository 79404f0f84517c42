"""Chat pages: the conversations with their unread counts, a room's history (paged back by
``seq``), the send box with a file picked from the drive, and a broadcast's acknowledgements by
unit with a reminder button. Rendered on the server from the same services as ``chat.api``; the
page's script (``static/js/chat.js``) adds live updates (WebSocket, with a long-poll fallback),
read receipts, typing and uploads into the drive. The forms that start, reply to, edit and
delete messages and manage membership are in ``views_actions``, a group's members, renaming and
removal in ``views_group``; each works without the script.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.chat import attachments, broadcasts, messages, rooms, views_actions, views_group
from polaris.chat.models import (
    BROADCAST,
    DIRECT,
    GROUP,
    INVITE,
    JOIN,
    MODERATOR,
    OWNER,
    BroadcastAck,
    ChatMember,
)
from polaris.chat.people import MIN_CHARS, find_people
from polaris.chat.present import present
from polaris.chat.schemas import EventRead, RoomRead, UnitAcksRead
from polaris.chat.summaries import ack_rows, room_list
from polaris.chat.texts import DEFAULT_LIMITS
from polaris.clock import utcnow
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import service as drive
from polaris.drive.sidebar import make_missing_spaces, sidebar_of
from polaris.identity.models import User
from polaris.identity.suggest import Suggestion
from polaris.web.i18n import pick_language
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
    "reply": N_("Reply"),
    "reply_to": N_("to %(name)s"),
    "edit": N_("Edit"),
    "delete": N_("Delete"),
    "edited": N_("edited"),
    "in_reply_to": N_("In reply to"),
    "earlier": N_("an earlier message"),
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
    #: The text now (the newest edit's), and whether it was edited.
    body: str | None = None
    edited: bool = False
    #: The viewer may edit it (their own text) and delete it (their own within the window, or
    #: any as a moderator).
    may_edit: bool = False
    may_delete: bool = False
    #: The message this one replies to, as "name: text" (None: not a reply).
    replying_to: str | None = None


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


def _direct_names(session: Session, me: int, listed: list[RoomRead]) -> dict[int, str]:
    """The other person's name for each direct room (the list shows it instead of the room's)."""
    ids = [r.id for r in listed if r.kind == DIRECT]
    if not ids:
        return {}
    rows = session.execute(
        select(ChatMember.room_id, User.full_name)
        .join(User, User.id == ChatMember.user_id)
        .where(ChatMember.room_id.in_(ids), ChatMember.user_id != me)
    ).all()
    return {room_id: name for room_id, name in rows}


def _people(session: Session, actor: Actor, text: str, request: Request) -> list[Suggestion] | None:
    """The people matching what was typed into a person picker (None: nothing typed)."""
    if not text.strip():
        return None
    return find_people(session, actor, text, language=pick_language(request))


@router.get("/chat")
def conversations(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    people: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The conversations; ``people``: what was typed into "start a conversation with"."""
    with transaction(session, read_only=True):
        listed = room_list(session, caller.actor)
        found = _people(session, caller.actor, people, request)
        direct = _direct_names(session, caller.actor.user_id, listed.rooms)
    return page(
        request,
        caller,
        "chat.html",
        [],
        rooms=listed.rooms,
        chat_unread=listed.unread_total,
        position=listed.position,
        room=None,
        people_query=people,
        people=found,
        direct_names=direct,
        min_chars=MIN_CHARS,
        texts=SCRIPT_TEXTS,
    )


def _shown(
    session: Session,
    caller: PageCaller,
    room: RoomRead,
    history: messages.HistoryPage,
) -> tuple[list[Shown], dict[int, str]]:
    """The page's messages with their current text, the viewer's rights on each, the reply each
    answers and, for a broadcast's moderators, the acknowledgement table."""
    shown, names = present(session, history.events, caller.actor.user_id)
    me = caller.actor.user_id
    moderator = room.role in (MODERATOR, OWNER)
    window = dt.timedelta(seconds=DEFAULT_LIMITS.redact_window_seconds)
    now = utcnow()
    pending = _pending_acks(session, me, [e.id for e in history.events])
    current: dict[str, str | None] = {}
    for event in shown:  # in seq order: the newest edit's text wins
        if event.edits and not event.redacted:
            current[event.edits] = event.body
    by_key = {event.event_id: event for event in shown}
    items = []
    for item, event in zip(history.events, shown, strict=True):
        table: list[UnitAcksRead] = []
        message = item.kind in ("text", "notice", "attachment")
        if room.kind == BROADCAST and moderator and message and not item.redacted:
            table = ack_rows(
                session,
                broadcasts.acknowledgements(
                    session=session,
                    actor=caller.actor,
                    context=caller.context,
                    event_key=item.event_key,
                ),
            )
        own = item.sender_id == me
        created = (
            item.created_at if item.created_at.tzinfo else item.created_at.replace(tzinfo=dt.UTC)
        )
        replying_to = None
        if event.reply_to:
            target = by_key.get(event.reply_to)
            if target is None or target.redacted:
                replying_to = ""
            else:
                text = current.get(target.event_id, target.body) or (
                    target.attachment.name if target.attachment else ""
                )
                replying_to = f"{names.get(target.sender_id or 0, '')}: {text[:120]}"
        items.append(
            Shown(
                event,
                names.get(item.sender_id or 0, ""),
                item.id in pending,
                table,
                body=current.get(event.event_id, event.body),
                edited=event.event_id in current,
                may_edit=own and item.kind in ("text", "notice") and not item.redacted,
                may_delete=message
                and not item.redacted
                and (moderator or (own and now - created <= window)),
                replying_to=replying_to,
            )
        )
    return items, names


@router.get("/chat/{room_id}")
def room_page(
    room_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    before: int | None = None,
    reply: Annotated[str, Query(max_length=100)] = "",
    edit: Annotated[str, Query(max_length=100)] = "",
    people: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """A room; ``reply`` and ``edit`` name a message to answer or to change (the forms for them
    without the script), ``people`` what was typed into the invitation's person picker."""
    context = caller.context
    make_missing_spaces(session=session, actor=caller.actor, settings=instance.settings)
    with transaction(session, read_only=True):
        listed = room_list(session, caller.actor)
        room_or_none = next((r for r in listed.rooms if r.id == room_id), None)
        if room_or_none is not None and room_or_none.membership == INVITE:
            # An invited person sees the invitation, not the history (``access``: join only).
            history = messages.HistoryPage(events=[], more=False)
        else:  # a room one is not in is refused (and audited) here, like a missing one
            history = messages.history(
                session=session,
                actor=caller.actor,
                context=context,
                room_id=room_id,
                before=before,
                limit=PAGE,
            )
        room = next(r for r in listed.rooms if r.id == room_id)
        items, names = _shown(session, caller, room, history)
        moderator = room.role in (MODERATOR, OWNER)
        root_id, files = _picker(session, caller.actor, instance, caller)
        joined_group = room.kind == GROUP and room.membership == JOIN
        found = _people(session, caller.actor, people, request) if joined_group else None
        panel = views_group.group_panel(session, caller, room) if joined_group else None
        direct = _direct_names(session, caller.actor.user_id, listed.rooms)
    replying = next((s for s in items if s.event.event_id == reply), None)
    editing = next((s for s in items if s.event.event_id == edit and s.may_edit), None)
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
        replying=replying,
        editing=editing,
        people_query=people,
        people=found,
        panel=panel,
        direct_names=direct,
        min_chars=MIN_CHARS,
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
    reply_to: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    with transaction(session):
        messages.send_text(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            body=body,
            reply_to=reply_to or None,
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


router.include_router(views_actions.router)
router.include_router(views_group.router)
