"""Messages: send (with a per-device transaction id), reply, edit, redact; receipts, unread
counts and paged history.

A transaction id makes a send idempotent: the same sender, device and id give back the event the
first send made, whatever the body of the repeat (Matrix's ``PUT .../send/{type}/{txnId}``). The
unique key ``(sender, device, txn)`` holds it even for two repeats racing each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor, ChatAction
from polaris.audit.context import AuditContext
from polaris.chat import events, texts, timeline, unread
from polaris.chat.models import (
    BROADCAST,
    JOIN,
    MESSAGE_KINDS,
    NOTICE,
    REDACTION,
    TEXT,
    BroadcastAck,
    ChatEvent,
    ChatMember,
    ChatReceipt,
    ChatRoom,
)
from polaris.chat.rooms import require_event, require_room
from polaris.chat.texts import DEFAULT_LIMITS, ChatLimits
from polaris.clock import utcnow
from polaris.errors import Conflict, PermissionDenied, ValidationFailed
from polaris.identity.models import User

TXN_MAX = 255


def check_txn(device_id: str | None, txn_id: str | None) -> None:
    if txn_id is None:
        return
    if not txn_id or len(txn_id) > TXN_MAX or "\x00" in txn_id:
        raise ValidationFailed("the transaction id is not valid", code="chat_txn_invalid")
    if device_id is not None and (len(device_id) > 64 or "\x00" in device_id):
        raise ValidationFailed("the device id is not valid", code="chat_txn_invalid")


def earlier_send(
    session: Session, sender_id: int, device_id: str | None, txn_id: str | None
) -> ChatEvent | None:
    if txn_id is None:
        return None
    return session.scalars(
        select(ChatEvent).where(
            ChatEvent.sender_id == sender_id,
            ChatEvent.device_id.is_(None)
            if device_id is None
            else ChatEvent.device_id == device_id,
            ChatEvent.txn_id == txn_id,
        )
    ).first()


def repeat_of(earlier: ChatEvent, room_id: int) -> ChatEvent:
    if earlier.room_id != room_id:
        raise Conflict("this transaction id was used for another room", code="chat_txn_reused")
    return earlier


def send_text(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    body: str,
    kind: str = TEXT,
    reply_to: str | None = None,
    device_id: str | None = None,
    txn_id: str | None = None,
    limits: ChatLimits = DEFAULT_LIMITS,
) -> ChatEvent:
    """Send a text (or a ``notice``) into a room, optionally replying to the event ``reply_to``
    (an event key of the same room). Returns the event; a repeated transaction id returns the
    first send's event and writes nothing."""
    if kind not in (TEXT, NOTICE):
        raise ValidationFailed("a message is a text or a notice", code="chat_bad_kind")
    check_txn(device_id, txn_id)
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.SEND
    )
    if device_id is None:  # NULLs are distinct in the unique key: it cannot catch a repeat
        earlier = earlier_send(session, actor.user_id, device_id, txn_id)
        if earlier is not None:
            return repeat_of(earlier, room.id)
    try:
        clean = texts.clean_body(body, limits)
        reply_to_id = _reply_target(session, room, reply_to)
    except ValidationFailed:  # a repeat gets the first send's event, whatever its body
        earlier = earlier_send(session, actor.user_id, device_id, txn_id)
        if earlier is not None:
            return repeat_of(earlier, room.id)
        raise
    # With a device, a repeat is found by the unique key at the insert (``record_message``):
    # one lookup fewer for every first send, the common case.
    return record_message(
        session,
        actor,
        context,
        room,
        kind=kind,
        body=clean,
        reply_to_id=reply_to_id,
        device_id=device_id,
        txn_id=txn_id,
    )


def _reply_target(session: Session, room: ChatRoom, reply_to: str | None) -> int | None:
    if reply_to is None:
        return None
    target = timeline.event_by_key(session, reply_to)
    if target is None or target.room_id != room.id or target.redacted_at is not None:
        raise ValidationFailed(
            "the message replied to is not in this room", code="chat_reply_not_found"
        )
    return target.id


def record_message(
    session: Session,
    actor: Actor,
    context: AuditContext,
    room: ChatRoom,
    *,
    kind: str,
    body: str | None,
    reply_to_id: int | None = None,
    device_id: str | None = None,
    txn_id: str | None = None,
    detail: dict[str, object] | None = None,
) -> ChatEvent:
    """Write a checked message: the timeline event, its audit record and change event, and for a
    broadcast one acknowledgement row per recipient (``broadcasts``). Raises ``Conflict`` for a
    transaction id that raced another send of it."""
    values: dict[str, Any] = {
        "sender_id": actor.user_id,
        "kind": kind,
        "body": body,
        "reply_to_id": reply_to_id,
        "device_id": device_id,
        "txn_id": txn_id,
    }
    event = timeline.append_event_unless_repeat(session, room, **values)
    if event is None:  # a repeat that raced the first send of its transaction id
        earlier = earlier_send(session, actor.user_id, device_id, txn_id)
        if earlier is None:
            raise timeline.txn_used()
        return repeat_of(earlier, room.id)
    if room.kind == BROADCAST:
        _expect_acknowledgements(session, room, event)
    timeline.audit_room(
        session,
        context,
        "chat.message.send",
        room,
        detail={
            "event_id": event.id,
            "kind": kind,
            "chars": len(body or ""),
            "reply_to": reply_to_id,
            **(detail or {}),
        },
    )
    events.changed_by(
        session, events.MESSAGE_SENT, event, actor_id=actor.user_id, reply_to_id=reply_to_id
    )
    return event


def _expect_acknowledgements(session: Session, room: ChatRoom, event: ChatEvent) -> None:
    """One row per joined member but the sender, in the unit the member is in now."""
    rows = session.execute(
        select(ChatMember.user_id, User.unit_id)
        .join(User, User.id == ChatMember.user_id)
        .where(
            ChatMember.room_id == room.id,
            ChatMember.membership == JOIN,
            ChatMember.user_id != event.sender_id,
        )
    ).all()
    session.add_all(
        BroadcastAck(event_id=event.id, user_id=user_id, unit_id=unit_id)
        for user_id, unit_id in rows
    )
    session.flush()


def edit(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    event_key: str,
    body: str,
    device_id: str | None = None,
    txn_id: str | None = None,
    limits: ChatLimits = DEFAULT_LIMITS,
) -> ChatEvent:
    """The sender replaces a message's text: a new event that names the one it edits (the
    original stays, for an inquiry). Edit the original, never an edit."""
    check_txn(device_id, txn_id)
    room, target = require_event(
        session=session, actor=actor, context=context, event_key=event_key, action=ChatAction.SEND
    )
    earlier = earlier_send(session, actor.user_id, device_id, txn_id)
    if earlier is not None:
        return repeat_of(earlier, room.id)
    if target.sender_id != actor.user_id:
        raise PermissionDenied("only the sender may edit a message", code="chat_not_sender")
    if target.kind not in (TEXT, NOTICE) or target.edits_id is not None:
        raise ValidationFailed("only a text message can be edited", code="chat_not_editable")
    clean = texts.clean_body(body, limits)
    new = timeline.append_event(
        session,
        room,
        sender_id=actor.user_id,
        kind=target.kind,
        body=clean,
        edits_id=target.id,
        device_id=device_id,
        txn_id=txn_id,
    )
    timeline.audit_room(
        session,
        context,
        "chat.message.edit",
        room,
        detail={"event_id": new.id, "edits": target.id, "chars": len(clean)},
    )
    events.changed_by(
        session, events.MESSAGE_EDITED, new, actor_id=actor.user_id, edits_id=target.id
    )
    return new


def redact(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    event_key: str,
    limits: ChatLimits = DEFAULT_LIMITS,
) -> ChatEvent:
    """Delete a message: its sender within ``limits.redact_window_seconds`` of sending, a
    moderator or owner at any time. The message and its edits are hidden from the members (their
    text stays in the database for an inquiry and for retention); a ``redaction`` event tells
    the clients."""
    room, target = require_event(
        session=session, actor=actor, context=context, event_key=event_key, action=ChatAction.READ
    )
    if target.kind not in MESSAGE_KINDS:
        raise ValidationFailed("only a message can be deleted", code="chat_not_redactable")
    own = target.sender_id == actor.user_id
    window = dt.timedelta(seconds=limits.redact_window_seconds)
    now = utcnow()
    if not own:
        require_room(
            session=session,
            actor=actor,
            context=context,
            room_id=room.id,
            action=ChatAction.MODERATE,
        )
    elif now - target.created_at > window:
        _require_moderator_after_window(session, actor, context, room)
    for victim in [target, *_edits_of(session, target.id)]:
        victim.redacted_at = now
        victim.redacted_by = actor.user_id
    redaction = timeline.append_event(
        session, room, sender_id=actor.user_id, kind=REDACTION, redacts_id=target.id
    )
    unread.uncounted(session, target)
    timeline.audit_room(
        session,
        context,
        "chat.message.redact",
        room,
        detail={"event_id": target.id, "own": own},
    )
    events.changed_by(
        session, events.MESSAGE_REDACTED, redaction, actor_id=actor.user_id, redacts_id=target.id
    )
    return redaction


def _require_moderator_after_window(
    session: Session, actor: Actor, context: AuditContext, room: ChatRoom
) -> None:
    member = timeline.member_of(session, room.id, actor.user_id)
    if member is None or member.role not in ("moderator", "owner"):
        raise PermissionDenied(
            "the time for deleting this message has passed", code="chat_redact_window_passed"
        )
    require_room(
        session=session,
        actor=actor,
        context=context,
        room_id=room.id,
        action=ChatAction.MODERATE,
    )


def _edits_of(session: Session, event_id: int) -> list[ChatEvent]:
    return list(session.scalars(select(ChatEvent).where(ChatEvent.edits_id == event_id)))


def mark_read(
    *, session: Session, actor: Actor, context: AuditContext, event_key: str
) -> ChatReceipt:
    """The actor has read the room up to this event (a receipt never goes back)."""
    room, target = require_event(
        session=session, actor=actor, context=context, event_key=event_key, action=ChatAction.READ
    )
    receipt = session.get(ChatReceipt, (room.id, actor.user_id))
    if receipt is None:
        receipt = ChatReceipt(room_id=room.id, user_id=actor.user_id, up_to_seq=0)
        session.add(receipt)
    if target.seq > receipt.up_to_seq:
        unread.lock_room(session, room.id)
        receipt.up_to_seq = target.seq
        receipt.at = utcnow()
        session.flush()
        unread.recount(session, room.id, [actor.user_id])
        events.changed_by(
            session, events.RECEIPT_UPDATED, target, actor_id=actor.user_id, user_id=actor.user_id
        )
    return receipt


def unread_counts(*, session: Session, actor: Actor) -> dict[int, int]:
    """Messages from others after the actor's receipt, per joined room (every joined room is in
    the answer, with 0 when all is read). Edits, redacted messages and state changes do not
    count. Kept up to date by the writes (``chat.unread``): one indexed read."""
    return unread.counts(session, actor.user_id)


@dataclass(frozen=True)
class TimelineItem:
    """A timeline event as a member sees it (detached from the session): a redacted event comes
    without its text."""

    id: int
    event_key: str
    room_id: int
    seq: int
    sender_id: int | None
    kind: str
    body: str | None
    state_type: str | None
    state_key: int | None
    state_value: str | None
    reply_to_id: int | None
    edits_id: int | None
    redacts_id: int | None
    redacted: bool
    device_id: str | None
    txn_id: str | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ChatEvent) -> TimelineItem:
        redacted = row.redacted_at is not None
        return cls(
            id=row.id,
            event_key=row.event_key,
            room_id=row.room_id,
            seq=row.seq,
            sender_id=row.sender_id,
            kind=row.kind,
            body=None if redacted else row.body,
            state_type=row.state_type,
            state_key=row.state_key,
            state_value=row.state_value,
            reply_to_id=row.reply_to_id,
            edits_id=row.edits_id,
            redacts_id=row.redacts_id,
            redacted=redacted,
            device_id=row.device_id,
            txn_id=row.txn_id,
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class HistoryPage:
    """Events in timeline order (oldest first); ``more``: there are further events beyond the
    page in the direction asked."""

    events: list[TimelineItem]
    more: bool


def history(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
    limits: ChatLimits = DEFAULT_LIMITS,
) -> HistoryPage:
    """A page of the room's timeline by ``seq``: the latest ``limit`` events before ``before``
    (or the latest of all), or the first ``limit`` after ``after``."""
    if not 1 <= limit <= limits.page_max:
        raise ValidationFailed(f"a page holds 1 to {limits.page_max} events", code="chat_bad_page")
    if before is not None and after is not None:
        raise ValidationFailed("page before or after a position, not both", code="chat_bad_page")
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.READ
    )
    query = select(ChatEvent).where(ChatEvent.room_id == room.id)
    if after is not None:
        rows = list(
            session.scalars(
                query.where(ChatEvent.seq > after).order_by(ChatEvent.seq).limit(limit + 1)
            )
        )
        return HistoryPage([TimelineItem.of(row) for row in rows[:limit]], more=len(rows) > limit)
    if before is not None:
        query = query.where(ChatEvent.seq < before)
    rows = list(session.scalars(query.order_by(ChatEvent.seq.desc()).limit(limit + 1)))
    page = [TimelineItem.of(row) for row in reversed(rows[:limit])]
    return HistoryPage(page, more=len(rows) > limit)
