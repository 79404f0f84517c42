"""Notifications of the messenger: a direct message to you, being added to a room, a broadcast
that asks for your acknowledgement.

The consumer ``notifications.chat`` follows chat's change events (``chat.events``); chat never
calls it. A direct room tells its other member once while they have not read it: a later message
replaces the unread notification (one per room, newest first, naming the last sender) instead of
adding another, and reading the room up to its end marks it read. Being added or invited to a
group by someone else tells the person added (a direct room's first message says it already; the
hierarchy's own rooms are the units', not news). A broadcast message tells each recipient with an
acknowledgement row (``chat_broadcast_ack``); acknowledging marks it read. Like the shares'
consumer it starts at the head of the stream, and a batch handed over twice tells nobody twice
(each row names the timeline event that caused it).

Shown, a notification leads to the room (``/chat/<id>``); one of a room the reader is no longer in
is not shown (``access`` decides, as for the room itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, String, delete, insert, literal, select, update
from sqlalchemy.orm import Session

from polaris import events
from polaris.access import service as access
from polaris.access.policy import Actor, ChatAction, ChatRoomFacts
from polaris.chat import events as chat_events
from polaris.chat.models import (
    BROADCAST,
    DIRECT,
    GROUP,
    JOIN,
    BroadcastAck,
    ChatEvent,
    ChatMember,
    ChatRoom,
)
from polaris.db.base import UTCDateTime
from polaris.identity.models import User
from polaris.identity.suggest import person_label
from polaris.notifications.kinds import Shown, presenter
from polaris.notifications.models import Notification
from polaris.web.messages import N_

DIRECT_KIND = "chat.direct"
ADDED_KIND = "chat.added"
BROADCAST_KIND = "chat.broadcast"
KINDS = (DIRECT_KIND, ADDED_KIND, BROADCAST_KIND)
ROOM = "chat_room"

NEW_MESSAGES = N_("New messages from %(who)s")
ADDED_YOU = N_("%(who)s added you to %(room)s")
INVITED_YOU = N_("%(who)s invited you to %(room)s")
ASKS_ACKNOWLEDGEMENT = N_("%(who)s sent a broadcast in %(room)s: please acknowledge it")

FOLLOWED = [
    chat_events.MESSAGE_SENT,
    chat_events.MEMBER_CHANGED,
    chat_events.RECEIPT_UPDATED,
    chat_events.BROADCAST_ACKNOWLEDGED,
]


def _told(session: Session, kind: str, source_ids: Sequence[int]) -> set[int]:
    """Which of these timeline events told anyone already (a batch handed over twice)."""
    if not source_ids:
        return set()
    return set(
        session.scalars(
            select(Notification.source_id).where(
                Notification.kind == kind, Notification.source_id.in_(sorted(set(source_ids)))
            )
        )
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _may_tell(session: Session, batch: Sequence[events.Event]) -> set[int]:
    """The timeline events of the batch that may tell someone: every membership change, and a
    message only in a direct or broadcast room (a group's messages tell nobody). One statement
    for the messages' rooms instead of loading every message of a busy group."""
    wanted = {
        _int(event.data.get("event_id"))
        for event in batch
        if event.kind == chat_events.MEMBER_CHANGED
    }
    sent = {
        _int(event.data.get("event_id"))
        for event in batch
        if event.kind == chat_events.MESSAGE_SENT
    }
    if sent:
        wanted.update(
            session.scalars(
                select(ChatEvent.id)
                .join(ChatRoom, ChatRoom.id == ChatEvent.room_id)
                .where(ChatEvent.id.in_(sorted(sent)), ChatRoom.kind.in_((DIRECT, BROADCAST)))
            )
        )
    return wanted


@events.consumer("notifications.chat", kinds=FOLLOWED, start="now")
def follow_chat(session: Session, batch: Sequence[events.Event]) -> None:
    """The batch's changes in their order: a receipt after a message in the same batch reads it."""
    event_ids = sorted(_may_tell(session, batch))
    # A group's messages tell nobody: for a batch of them, no look at the timeline or rooms.
    timeline = (
        {
            row.id: row
            for row in session.scalars(select(ChatEvent).where(ChatEvent.id.in_(event_ids)))
        }
        if event_ids
        else {}
    )
    room_ids = sorted({row.room_id for row in timeline.values()})
    rooms = (
        {
            room.id: room
            for room in session.scalars(select(ChatRoom).where(ChatRoom.id.in_(room_ids)))
        }
        if room_ids
        else {}
    )
    told = {
        kind: _told(session, kind, event_ids) for kind in (DIRECT_KIND, ADDED_KIND, BROADCAST_KIND)
    }
    for change in batch:
        room_id = _int(change.data.get("room_id"))
        user_id = _int(change.data.get("user_id"))
        if change.kind == chat_events.RECEIPT_UPDATED:
            _read_room(session, room_id, user_id, change)
            continue
        if change.kind == chat_events.BROADCAST_ACKNOWLEDGED:
            _mark_read(
                session, user_id, BROADCAST_KIND, change, source_id=change.data.get("event_id")
            )
            continue
        row = timeline.get(_int(change.data.get("event_id")))
        room = rooms.get(row.room_id) if row is not None else None
        if row is None or room is None:
            continue  # purged since: nothing to tell
        if change.kind == chat_events.MEMBER_CHANGED:
            if row.id not in told[ADDED_KIND]:
                _added(session, room, row, change)
        elif room.kind == DIRECT and row.id not in told[DIRECT_KIND]:
            _direct(session, room, row, change)
        elif room.kind == BROADCAST and row.id not in told[BROADCAST_KIND]:
            _broadcast(session, room, row, change)


def _insert(
    session: Session, user_id: int, kind: str, room_id: int, source: ChatEvent, actor: int | None
) -> None:
    session.add(
        Notification(
            user_id=user_id,
            kind=kind,
            subject_type=ROOM,
            subject_id=room_id,
            source_id=source.id,
            actor_id=actor,
            created_at=source.created_at,
        )
    )


def _direct(session: Session, room: ChatRoom, message: ChatEvent, change: events.Event) -> None:
    """The other member's unread notification of this room, replaced by one naming this message."""
    others = session.scalars(
        select(ChatMember.user_id).where(
            ChatMember.room_id == room.id,
            ChatMember.membership == JOIN,
            ChatMember.user_id != (message.sender_id or -1),
        )
    ).all()
    for user_id in others:
        session.execute(
            delete(Notification).where(
                Notification.user_id == user_id,
                Notification.kind == DIRECT_KIND,
                Notification.subject_id == room.id,
                Notification.read_at.is_(None),
            )
        )
        _insert(session, user_id, DIRECT_KIND, room.id, message, change.actor_id)
    session.flush()


def _added(session: Session, room: ChatRoom, state: ChatEvent, change: events.Event) -> None:
    """Added or invited to a group by someone else."""
    user_id = _int(change.data.get("user_id"))
    by = change.actor_id
    if room.kind != GROUP or by is None or by == user_id:
        return
    if state.state_value not in ("join", "invite"):
        return
    _insert(session, user_id, ADDED_KIND, room.id, state, by)
    session.flush()


def _broadcast(session: Session, room: ChatRoom, message: ChatEvent, change: events.Event) -> None:
    """One row per recipient still to acknowledge, in one ``INSERT ... SELECT``."""
    chosen = select(
        BroadcastAck.user_id,
        literal(BROADCAST_KIND, String()),
        literal(ROOM, String()),
        literal(room.id, Integer()),
        literal(message.id, Integer()),
        literal(change.actor_id, Integer()),
        literal(message.created_at, UTCDateTime()),
    ).where(BroadcastAck.event_id == message.id, BroadcastAck.acknowledged_at.is_(None))
    columns = ["user_id", "kind", "subject_type", "subject_id", "source_id", "actor_id"]
    session.execute(insert(Notification).from_select([*columns, "created_at"], chosen))


def _read_room(session: Session, room_id: int, user_id: int, change: events.Event) -> None:
    """Read up to the end (nothing unread left): the room's direct-message and added
    notifications are read too."""
    left = session.scalar(
        select(ChatMember.unread).where(
            ChatMember.room_id == room_id, ChatMember.user_id == user_id
        )
    )
    if left == 0:
        for kind in (DIRECT_KIND, ADDED_KIND):
            _mark_read(session, user_id, kind, change, room_id=room_id)


def _mark_read(
    session: Session,
    user_id: int,
    kind: str,
    change: events.Event,
    *,
    room_id: int | None = None,
    source_id: object = None,
) -> None:
    query = update(Notification).where(
        Notification.user_id == user_id,
        Notification.kind == kind,
        Notification.read_at.is_(None),
    )
    if room_id is not None:
        query = query.where(Notification.subject_type == ROOM, Notification.subject_id == room_id)
    if source_id is not None:
        query = query.where(Notification.source_id == _int(source_id))
    session.execute(query.values(read_at=change.created_at))


def _present(session: Session, actor: Actor, rows: Sequence[Notification]) -> dict[int, Shown]:
    """The rows of rooms the reader is in (or invited to), in three queries for the page."""
    room_ids = sorted({row.subject_id for row in rows})
    rooms = {
        room.id: room for room in session.scalars(select(ChatRoom).where(ChatRoom.id.in_(room_ids)))
    }
    memberships = {
        member.room_id: member
        for member in session.scalars(
            select(ChatMember).where(
                ChatMember.room_id.in_(room_ids), ChatMember.user_id == actor.user_id
            )
        )
    }
    people = {
        user.id: user
        for user in session.scalars(
            select(User).where(User.id.in_(sorted({r.actor_id for r in rows if r.actor_id})))
        )
    }
    added = sorted({row.source_id for row in rows if row.kind == ADDED_KIND})
    states: dict[int, str | None] = {}
    if added:
        found = session.execute(
            select(ChatEvent.id, ChatEvent.state_value).where(ChatEvent.id.in_(added))
        )
        states = {event_id: value for event_id, value in found}
    shown: dict[int, Shown] = {}
    for row in rows:
        room = rooms.get(row.subject_id)
        member = memberships.get(row.subject_id)
        if room is None:
            continue
        facts = ChatRoomFacts(
            room.id,
            room.kind,
            member.membership if member else None,
            member.role if member else None,
        )
        # An invitation may still be accepted (``join``); anything else needs the room readable.
        action = ChatAction.JOIN if facts.membership == "invite" else ChatAction.READ
        if not access.can_chat(actor, action, facts):
            continue
        who = people.get(row.actor_id or 0)
        if row.kind == DIRECT_KIND:
            message = NEW_MESSAGES
        elif row.kind == ADDED_KIND:
            message = INVITED_YOU if states.get(row.source_id) == "invite" else ADDED_YOU
        else:
            message = ASKS_ACKNOWLEDGEMENT
        shown[row.id] = Shown(
            id=row.id,
            kind=row.kind,
            message=message,
            values={"who": person_label(who) if who else "?", "room": room.name},
            url=f"/chat/{room.id}",
            created_at=row.created_at,
            read=row.read_at is not None,
        )
    return shown


for _kind in KINDS:
    presenter(_kind)(_present)
