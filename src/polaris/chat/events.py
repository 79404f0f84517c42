"""The messenger's change events (``polaris.events``), appended in the transaction of each change.

Data holds ids only (never names or text): ``room_id`` always (but for ``chat.account.updated``,
about a user alone, whose subject is the user), ``event_id`` (the timeline row) and ``seq`` for
a timeline event, ``user_id`` for a membership or receipt. Their space is None;
their actor is the acting user (None for the hierarchy's own changes). Listed in docs/chat.md.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from polaris import events
from polaris.events.service import DataValue

if TYPE_CHECKING:
    from polaris.chat.models import ChatEvent

ROOM_CREATED = "chat.room.created"
ROOM_CHANGED = "chat.room.changed"
MEMBER_CHANGED = "chat.member.changed"
MESSAGE_SENT = "chat.message.sent"
MESSAGE_EDITED = "chat.message.edited"
MESSAGE_REDACTED = "chat.message.redacted"
#: Retention removed the text of messages (``chat.retention``): ``event_ids``.
MESSAGE_PURGED = "chat.message.purged"
RECEIPT_UPDATED = "chat.receipt.updated"
#: A member's own room account data changed: the read marker moved (a Matrix client's
#: ``m.fully_read``) or a Matrix client put any other room account data: ``user_id``. Only that
#: member's Matrix syncs show it; the messenger's own sync does not carry it (``chat.sync.KINDS``).
MARKER_UPDATED = "chat.marker.updated"
#: A user's own global account data changed (a Matrix client's settings, direct rooms, push
#: rules): ``user_id``. Its subject is the user (``USER_SUBJECT``), not a room; only that user's
#: Matrix syncs show it.
ACCOUNT_UPDATED = "chat.account.updated"
USER_SUBJECT = "user"
BROADCAST_ACKNOWLEDGED = "chat.broadcast.acknowledged"
BROADCAST_REMINDED = "chat.broadcast.reminded"

#: Set when a transaction that appended chat events commits in this process: the live hubs
#: (``chat.live``) wait on theirs to sequence them and wake the clients waiting in a sync.
_LISTENERS: set[threading.Event] = set()
_PENDING = "polaris.chat.committed_pending"


def changed(
    session: Session, kind: str, *, room_id: int, actor_id: int | None, **data: DataValue
) -> None:
    events.append(
        session,
        kind=kind,
        subject=("chat_room", room_id),
        actor_id=actor_id,
        data={"room_id": room_id, **data},
    )
    _listen_for_commit(session)


def _listen_for_commit(session: Session) -> None:
    if not session.info.get(_PENDING):
        session.info[_PENDING] = True  # once per transaction, however many events
        orm_event.listen(session, "after_commit", _committed, once=True)
        orm_event.listen(session, "after_rollback", _forget, once=True)


def account_changed(session: Session, *, user_id: int) -> None:
    """The user's own global account data changed (``ACCOUNT_UPDATED``), in their transaction."""
    events.append(
        session,
        kind=ACCOUNT_UPDATED,
        subject=(USER_SUBJECT, user_id),
        actor_id=user_id,
        data={"user_id": user_id},
    )
    _listen_for_commit(session)


def changed_by(
    session: Session, kind: str, event: ChatEvent, *, actor_id: int | None, **data: DataValue
) -> None:
    """``changed`` for a change that a timeline event carries: its room, ``event_id`` and
    ``seq``."""
    changed(
        session,
        kind,
        room_id=event.room_id,
        actor_id=actor_id,
        event_id=event.id,
        seq=event.seq,
        **data,
    )


def _committed(session: Session) -> None:
    session.info.pop(_PENDING, None)
    for listener in list(_LISTENERS):
        listener.set()


def listen(wake: threading.Event) -> None:
    """Set ``wake`` whenever chat events commit in this process."""
    _LISTENERS.add(wake)


def unlisten(wake: threading.Event) -> None:
    _LISTENERS.discard(wake)


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
