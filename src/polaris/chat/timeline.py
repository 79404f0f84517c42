"""The room's timeline and membership rows: the writes every chat service shares.

``append_event`` gives the next ``seq`` of the room with one conditional UPDATE of the room row
(``last_seq + 1 ... RETURNING``): that row lock orders the room's events, so two senders never
take one ``seq``, and a reader paging by ``seq`` sees a gapless order. ``set_membership`` is the one
place a membership changes: the row, a state event in the timeline, the audit record and the change
event, together.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from polaris.access.policy import ChatRoomFacts, Classification
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.chat import events, unread
from polaris.chat.models import STATE, ChatEvent, ChatMember, ChatRoom
from polaris.clock import utcnow
from polaris.db import group_commit
from polaris.errors import Conflict

MISSING_KIND = "missing"
_ROOMS = cast(Table, ChatRoom.__table__)
#: The room's next ``seq`` (prebuilt Core: through the ORM it was a bulk update that evaluated
#: the session's identity map, a tenth of a send's CPU).
_NEXT_SEQ = (
    update(_ROOMS)
    .where(_ROOMS.c.id == bindparam("b_room_id"))
    .values(last_seq=_ROOMS.c.last_seq + 1)
    .returning(_ROOMS.c.last_seq)
)


_EVENTS = cast(Table, ChatEvent.__table__)
#: Every column of an event but its id, each bound in the prebuilt insert.
_EVENT_FIELDS = tuple(column.name for column in _EVENTS.columns if column.name != "id")
#: A ``seq`` taken for a send that turned out to be a repeat, given back.
_SEQ_BACK = (
    update(_ROOMS)
    .where(_ROOMS.c.id == bindparam("b_room_id"))
    .values(last_seq=_ROOMS.c.last_seq - 1)
)
#: The code of the ``Conflict`` a repeated transaction id raises where a repeat is not expected.
TXN_USED = "chat_txn_used"


@functools.cache
def _insert_event(dialect: str) -> Any:
    """``INSERT INTO chat_event … ON CONFLICT DO NOTHING RETURNING id`` for ``dialect``."""
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    # Only the transaction id's key: a ``seq`` or event key taken is a fault, and raises.
    repeat = [_EVENTS.c.sender_id, _EVENTS.c.device_id, _EVENTS.c.txn_id]
    return insert_(_EVENTS).on_conflict_do_nothing(index_elements=repeat).returning(_EVENTS.c.id)


def new_event_key() -> str:
    """An opaque, unguessable event id (a client never learns counts or order from it)."""
    return secrets.token_urlsafe(18)


def append_event(
    session: Session,
    room: ChatRoom,
    *,
    sender_id: int | None,
    kind: str,
    **values: Any,
) -> ChatEvent:
    """The room's next event; ``Conflict`` (nothing written) when the sender's device used the
    transaction id already (:func:`append_event_unless_repeat`)."""
    event = append_event_unless_repeat(session, room, sender_id=sender_id, kind=kind, **values)
    if event is None:
        raise txn_used()
    return event


def txn_used() -> Conflict:
    """The refusal of a repeated transaction id where no first send is there to hand back."""
    return Conflict("this transaction id was used already", code=TXN_USED)


def append_event_unless_repeat(
    session: Session,
    room: ChatRoom,
    *,
    sender_id: int | None,
    kind: str,
    **values: Any,
) -> ChatEvent | None:
    """The room's next event, or None when the sender's device used its transaction id
    already (the unique key ``(sender, device, txn)``): then nothing is written and the room's
    ``seq`` is as it was, so the timeline stays gapless.

    A send is the messenger's busiest write, and it runs in a group commit that holds SQLite's
    one writer lock: the row goes in by one prebuilt ``INSERT … ON CONFLICT DO NOTHING
    RETURNING id`` instead of the ORM's flush inside a savepoint (the flush's unit of work and
    the two savepoint statements were a third of a send's time under the lock). The object
    handed back holds the values written, as if loaded, but is not in the session: the session
    never saw it inserted, so a savepoint rolled back would leave it there while SQLite gave
    its id to the next insert. Change the row through a fresh lookup, not this object."""
    seq = session.connection().execute(_NEXT_SEQ, {"b_room_id": room.id}).scalar_one()
    row = dict.fromkeys(_EVENT_FIELDS)
    row.update(
        event_key=new_event_key(),
        room_id=room.id,
        seq=seq,
        sender_id=sender_id,
        kind=kind,
        created_at=utcnow(),
        **values,
    )
    dialect = session.get_bind().dialect.name
    event_id = session.connection().execute(_insert_event(dialect), row).scalar_one_or_none()
    if event_id is None:
        # The room row is locked by this transaction since ``_NEXT_SEQ``: nobody took a later
        # ``seq`` meanwhile, and this one is given back.
        session.connection().execute(_SEQ_BACK, {"b_room_id": room.id})
        set_committed_value(room, "last_seq", seq - 1)
        return None
    # The ORM's copy, as stored (not a change to flush): the statement is Core and leaves the
    # session's objects alone.
    set_committed_value(room, "last_seq", seq)
    event = ChatEvent(id=event_id, **row)
    make_transient_to_detached(event)  # as if read from the row just written
    if unread.counts_toward_unread(kind, values.get("edits_id")):
        unread.counted(session, room.id, sender_id)
    return event


def member_of(session: Session, room_id: int, user_id: int) -> ChatMember | None:
    return session.get(ChatMember, (room_id, user_id))


def facts(
    session: Session,
    room_id: int,
    user_id: int,
    classification: Classification = Classification.UNCLASSIFIED,
) -> tuple[ChatRoom | None, ChatRoomFacts]:
    """The room and what the rules need, with the same two lookups whether it exists or not."""
    room = session.get(ChatRoom, room_id)
    member = member_of(session, room_id, user_id)
    group_commit.keep(session, room)  # for the next send of a group commit's batch
    if room is None:
        return None, ChatRoomFacts(room_id, MISSING_KIND, None, None, classification)
    return room, ChatRoomFacts(
        room_id,
        room.kind,
        member.membership if member else None,
        member.role if member else None,
        classification,
    )


def audit_room(
    session: Session,
    context: AuditContext,
    action: str,
    room: ChatRoom,
    *,
    classification: Classification = Classification.UNCLASSIFIED,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.append(
        session=session,
        context=context,
        action=action,
        object_type="chat_room",
        object_id=room.id,
        classification=classification.name.lower(),
        detail=detail,
    )


def set_membership(
    session: Session,
    room: ChatRoom,
    *,
    user_id: int,
    membership: str,
    actor_id: int | None,
    context: AuditContext,
    role: str | None = None,
) -> bool:
    """Put ``user_id`` in ``membership`` (and ``role``); False, and nothing written, when it is
    that already."""
    member = member_of(session, room.id, user_id)
    if member is not None and member.membership == membership and role in (None, member.role):
        return False
    # The room's lock before the member row's: a send takes them in that order (its unread
    # update touches every member row), so the other order could deadlock on PostgreSQL.
    unread.lock_room(session, room.id)
    now = utcnow()
    new = member is None
    if member is None:
        member = ChatMember(
            room_id=room.id, user_id=user_id, membership=membership, role=role or "member"
        )
        session.add(member)
    member.membership = membership
    member.since = now
    if role is not None:
        member.role = role
    state = append_event(
        session,
        room,
        sender_id=actor_id,
        kind=STATE,
        state_type="member",
        state_key=user_id,
        state_value=membership,
    )
    if new:  # the definition counts from the receipt, whenever the member came
        unread.recount(session, room.id, [user_id])
    audit_room(
        session,
        context,
        f"chat.member.{membership}",
        room,
        detail={"user_id": user_id, "role": member.role, "event_id": state.id},
    )
    events.changed_by(session, events.MEMBER_CHANGED, state, actor_id=actor_id, user_id=user_id)
    return True


def joined_user_ids(session: Session, room_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ChatMember.user_id)
            .where(ChatMember.room_id == room_id, ChatMember.membership == "join")
            .order_by(ChatMember.user_id)
        )
    )


def event_by_key(session: Session, event_key: str) -> ChatEvent | None:
    return session.scalars(select(ChatEvent).where(ChatEvent.event_key == event_key)).first()
