"""Broadcasts: a unit's supervisors send to every unit below it, and each recipient acknowledges.

A broadcast is a room (kind ``broadcast``) whose members follow the hierarchy (``channels``).
Every message sent into it gets one ``chat_broadcast_ack`` row per recipient, in the unit they were
in when it was sent (``messages.record_message``): the table answers "who has, and who has not,
acknowledged, by unit" however the units change afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Actor, ChatAction
from polaris.audit.context import AuditContext
from polaris.chat import channels, events, texts, timeline
from polaris.chat.models import BROADCAST, BroadcastAck, ChatRoom
from polaris.chat.rooms import new_room, require_event
from polaris.clock import utcnow
from polaris.errors import NotFound
from polaris.identity.models import Unit


def create_broadcast(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    name: str,
    topic: str | None = None,
    unit_id: int | None = None,
) -> ChatRoom:
    """A broadcast room from ``unit_id`` (the actor's unit by default) to the units below it:
    its supervisors (and the creator, its owner) send, everyone below receives."""
    clean = texts.clean_name(name)
    clean_topic = texts.clean_topic(topic)
    unit = actor.unit_id if unit_id is None else unit_id
    access.require_broadcast(session=session, actor=actor, unit_id=unit, context=context)
    if session.get(Unit, unit) is None:  # an administrator may name any unit: one that exists
        raise NotFound("unit not found", code="not_found")
    room = new_room(
        session,
        context,
        kind=BROADCAST,
        name=clean,
        topic=clean_topic,
        unit_id=unit,
        creator_id=actor.user_id,
    )
    channels.sync_room(session, room, context)
    timeline.set_membership(  # the creator owns it, even an administrator from elsewhere
        session,
        room,
        user_id=actor.user_id,
        membership="join",
        role="owner",
        actor_id=actor.user_id,
        context=context,
    )
    return room


def _broadcast_message(
    session: Session, actor: Actor, context: AuditContext, event_key: str, action: ChatAction
) -> tuple[ChatRoom, int]:
    room, event = require_event(
        session=session, actor=actor, context=context, event_key=event_key, action=action
    )
    if room.kind != BROADCAST:
        raise NotFound("not a broadcast message", code="chat_not_broadcast")
    return room, event.id


def acknowledge(*, session: Session, actor: Actor, context: AuditContext, event_key: str) -> bool:
    """The actor acknowledges a broadcast message; False if they had already (or were not among
    its recipients, having joined since)."""
    room, event_id = _broadcast_message(session, actor, context, event_key, ChatAction.ACKNOWLEDGE)
    ack = session.get(BroadcastAck, (event_id, actor.user_id))
    if ack is None or ack.acknowledged_at is not None:
        return False
    ack.acknowledged_at = utcnow()
    session.flush()
    timeline.audit_room(
        session, context, "chat.broadcast.acknowledge", room, detail={"event_id": event_id}
    )
    events.changed(
        session,
        events.BROADCAST_ACKNOWLEDGED,
        room_id=room.id,
        actor_id=actor.user_id,
        event_id=event_id,
        user_id=actor.user_id,
    )
    return True


@dataclass(frozen=True)
class UnitAcknowledgements:
    """One unit's recipients of a broadcast message: who has acknowledged and who has not."""

    unit_id: int
    acknowledged: list[int]
    pending: list[int]


def acknowledgements(
    *, session: Session, actor: Actor, context: AuditContext, event_key: str
) -> list[UnitAcknowledgements]:
    """Who has and who has not acknowledged a broadcast message, by unit (unit id order; user ids
    in order): for the broadcast's moderators and owner."""
    _room, event_id = _broadcast_message(session, actor, context, event_key, ChatAction.MODERATE)
    rows = session.scalars(
        select(BroadcastAck)
        .where(BroadcastAck.event_id == event_id)
        .order_by(BroadcastAck.unit_id, BroadcastAck.user_id)
    )
    table: dict[int, UnitAcknowledgements] = {}
    for ack in rows:
        entry = table.setdefault(ack.unit_id, UnitAcknowledgements(ack.unit_id, [], []))
        (entry.pending if ack.acknowledged_at is None else entry.acknowledged).append(ack.user_id)
    return list(table.values())


def remind(*, session: Session, actor: Actor, context: AuditContext, event_key: str) -> list[int]:
    """Remind every recipient who has not acknowledged yet; their user ids. The reminder itself
    goes out through the change stream (``chat.broadcast.reminded`` names them), so a notifier
    consumer delivers it, once, after this commits."""
    room, event_id = _broadcast_message(session, actor, context, event_key, ChatAction.MODERATE)
    pending = list(
        session.scalars(
            select(BroadcastAck)
            .where(BroadcastAck.event_id == event_id, BroadcastAck.acknowledged_at.is_(None))
            .order_by(BroadcastAck.user_id)
        )
    )
    now = utcnow()
    for ack in pending:
        ack.reminded_at = now
    session.flush()
    user_ids = [ack.user_id for ack in pending]
    timeline.audit_room(
        session,
        context,
        "chat.broadcast.remind",
        room,
        detail={"event_id": event_id, "reminded": len(user_ids)},
    )
    if user_ids:
        events.changed(
            session,
            events.BROADCAST_REMINDED,
            room_id=room.id,
            actor_id=actor.user_id,
            event_id=event_id,
            user_ids=user_ids,
        )
    return user_ids
