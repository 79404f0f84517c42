"""The room's timeline and membership rows: the writes every chat service shares.

``append_event`` gives the next ``seq`` of the room with one conditional UPDATE of the room row
(``last_seq + 1 ... RETURNING``): that row lock orders the room's events, so two senders never
take one ``seq``, and a reader paging by ``seq`` sees a gapless order. ``set_membership`` is the one
place a membership changes: the row, a state event in the timeline, the audit record and the change
event, together.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from polaris.access.policy import ChatRoomFacts, Classification
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.chat import events, unread
from polaris.chat.models import STATE, ChatEvent, ChatMember, ChatRoom
from polaris.clock import utcnow

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
    seq = session.connection().execute(_NEXT_SEQ, {"b_room_id": room.id}).scalar_one()
    # The ORM's copy, as stored (not a change to flush): the statement is Core and leaves the
    # session's objects alone.
    set_committed_value(room, "last_seq", seq)
    event = ChatEvent(
        event_key=new_event_key(),
        room_id=room.id,
        seq=seq,
        sender_id=sender_id,
        kind=kind,
        created_at=utcnow(),
        **values,
    )
    session.add(event)
    session.flush()
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
