"""Unread counts kept up to date, so that reading them is one indexed lookup per member.

The definition (docs/chat.md) is unchanged: the messages (texts, notices, attachments) from others
after the member's receipt, edits and redacted messages not counted. Counting them on every sync
scanned the whole unread part of each room (a room nobody marks read grows without end);
``chat_member.unread`` holds that number instead, for every member row whatever its membership
(a member who leaves and comes back finds the count the definition gives):

- a message (not an edit) adds one for every member but its sender (``counted``);
- a redaction takes one from the members who had not read the message yet (``uncounted``);
- a receipt, a new member row and retention's purge count again, from the receipt on
  (``recount``): the part still unread, usually nothing.

Every write here runs after the room row's lock (``timeline.append_event``, or ``lock_room``),
so on PostgreSQL the sends, redactions, receipts and membership changes of one room take turns
and no count is lost to a race; SQLite has one writer anyway. Whoever changes a member row takes
the room's lock first (``timeline.set_membership``), as a send does: the opposite order would
deadlock against a send's update of every member row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import ScalarSelect, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from polaris.chat.models import JOIN, MESSAGE_KINDS, ChatEvent, ChatMember, ChatReceipt, ChatRoom

MEMBERS = cast(Table, ChatMember.__table__)
#: One more unread for every member of the room (but the sender): prebuilt Core statements,
#: none of the ORM's bulk-update work and no statement built a message.
_COUNTED_ALL = (
    update(MEMBERS)
    .where(MEMBERS.c.room_id == bindparam("b_room_id"))
    .values(unread=MEMBERS.c.unread + 1)
)
_COUNTED = _COUNTED_ALL.where(MEMBERS.c.user_id != bindparam("b_sender_id"))


def counts(session: Session, user_id: int) -> dict[int, int]:
    """Per joined room, the user's unread count (0 when all is read)."""
    rows = session.execute(
        select(ChatMember.room_id, ChatMember.unread).where(
            ChatMember.user_id == user_id, ChatMember.membership == JOIN
        )
    ).all()
    return {room_id: unread for room_id, unread in rows}


def counts_toward_unread(kind: str, edits_id: int | None) -> bool:
    return kind in MESSAGE_KINDS and edits_id is None


def counted(session: Session, room_id: int, sender_id: int | None) -> None:
    """A message was sent: one more unread for every member but the sender."""
    if sender_id is None:
        session.connection().execute(_COUNTED_ALL, {"b_room_id": room_id})
    else:
        session.connection().execute(_COUNTED, {"b_room_id": room_id, "b_sender_id": sender_id})


def uncounted(session: Session, event: ChatEvent) -> None:
    """``event`` was redacted: one fewer unread for the members who had not read it."""
    if not counts_toward_unread(event.kind, event.edits_id):
        return
    read_it = (
        select(ChatReceipt.user_id)
        .where(
            ChatReceipt.room_id == event.room_id,
            ChatReceipt.user_id == ChatMember.user_id,
            ChatReceipt.up_to_seq >= event.seq,
        )
        .exists()
    )
    query = update(ChatMember).where(ChatMember.room_id == event.room_id, ~read_it)
    if event.sender_id is not None:
        query = query.where(ChatMember.user_id != event.sender_id)
    session.execute(
        query.values(unread=ChatMember.unread - 1).execution_options(synchronize_session=False)
    )


def _counting_query() -> ScalarSelect[int]:
    """The definition, as a scalar subquery over the part after the receipt (both levels
    correlated to the member row: left to itself, the inner one would read any receipt)."""
    room_id, user_id = ChatMember.room_id, ChatMember.user_id
    receipt = (
        select(ChatReceipt.up_to_seq)
        .where(ChatReceipt.room_id == room_id, ChatReceipt.user_id == user_id)
        .correlate(ChatMember)
        .scalar_subquery()
    )
    return (
        select(func.count(ChatEvent.id))
        .where(
            ChatEvent.room_id == room_id,
            ChatEvent.seq > func.coalesce(receipt, 0),
            ChatEvent.kind.in_(MESSAGE_KINDS),
            ChatEvent.edits_id.is_(None),
            ChatEvent.redacted_at.is_(None),
            or_(ChatEvent.sender_id.is_(None), ChatEvent.sender_id != user_id),
        )
        .correlate(ChatMember)
        .scalar_subquery()
    )


def recount(session: Session, room_id: int, user_ids: Iterable[int] | None = None) -> None:
    """Count again, for these members of the room (every member: None), from their receipts."""
    query = update(ChatMember).where(ChatMember.room_id == room_id)
    if user_ids is not None:
        query = query.where(ChatMember.user_id.in_(list(user_ids)))
    session.flush()
    session.execute(
        query.values(unread=_counting_query()).execution_options(synchronize_session=False)
    )


def lock_room(session: Session, room_id: int) -> None:
    """Take the room row's lock (what a send takes first) before counting again."""
    session.execute(
        update(ChatRoom)
        .where(ChatRoom.id == room_id)
        .values(last_seq=ChatRoom.last_seq)
        .execution_options(synchronize_session=False)
    )


def exact(session: Session, user_id: int) -> dict[int, int]:
    """The definition counted from the rows (for tests and checks): must equal ``counts``."""
    rows = session.execute(
        select(ChatMember.room_id, _counting_query()).where(
            and_(ChatMember.user_id == user_id, ChatMember.membership == JOIN)
        )
    ).all()
    return {room_id: int(count) for room_id, count in rows}
