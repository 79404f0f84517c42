"""Rooms whose members follow the hierarchy: a channel per unit (its users) and broadcasts (the
sending unit and every unit below it).

Identity appends ``user.*`` and ``unit.*`` events when officers are posted, transferred, disabled
or enabled; the ``chat.hierarchy`` consumer reads them and puts the members of each affected room
right (``sync_room``). The chat domain never asks identity to tell it: it reads identity's tables
(users, the unit closure) only to learn who belongs where now. ``sync_room`` is idempotent: run it
twice, or for a room already right, and it writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris import events as stream
from polaris.audit.context import AuditContext
from polaris.chat import timeline
from polaris.chat.models import BROADCAST, JOIN, LEAVE, MODERATOR, OWNER, UNIT_CHANNEL, ChatRoom
from polaris.chat.rooms import new_room
from polaris.identity import events as identity_events
from polaris.identity.models import Role, Unit, UnitClosure, User

CONSUMER = "chat.hierarchy"
SYSTEM = AuditContext.system("chat.hierarchy")


def unit_channel(session: Session, unit_id: int) -> ChatRoom | None:
    return session.scalars(
        select(ChatRoom).where(ChatRoom.kind == UNIT_CHANNEL, ChatRoom.unit_id == unit_id)
    ).first()


def ensure_unit_channel(
    session: Session, unit_id: int, context: AuditContext = SYSTEM
) -> ChatRoom | None:
    """The unit's channel, made (with its members) if it has none; None for a unit that does not
    exist."""
    room = unit_channel(session, unit_id)
    if room is not None:
        return room
    unit = session.get(Unit, unit_id)
    if unit is None:
        return None
    room = new_room(session, context, kind=UNIT_CHANNEL, name=unit.name, unit_id=unit.id)
    sync_room(session, room, context)
    return room


def ensure_all_unit_channels(session: Session, context: AuditContext = SYSTEM) -> int:
    """Make the channel of every unit that has none (with its members); how many were made.

    For an instance whose stream was compacted before the messenger arrived: the consumer makes a
    channel when a unit is created or one of its users changes, and would never hear of the rest.
    """
    have = select(ChatRoom.unit_id).where(ChatRoom.kind == UNIT_CHANNEL)
    missing = list(session.scalars(select(Unit.id).where(Unit.id.not_in(have)).order_by(Unit.id)))
    for unit_id in missing:
        ensure_unit_channel(session, unit_id, context)
    return len(missing)


def _wanted(session: Session, room: ChatRoom) -> dict[int, str]:
    """Who should be joined now, and in what role (user id -> role)."""
    assert room.unit_id is not None
    enabled = User.disabled_at.is_(None)
    if room.kind == UNIT_CHANNEL:
        ids = session.scalars(select(User.id).where(User.unit_id == room.unit_id, enabled))
        return {user_id: "member" for user_id in ids}
    rows = session.execute(
        select(User.id, User.unit_id, Role.subtree_actions)
        .join(UnitClosure, UnitClosure.descendant_id == User.unit_id)
        .join(Role, Role.code == User.role_code)
        .where(UnitClosure.ancestor_id == room.unit_id, enabled)
    ).all()
    wanted = {}
    for user_id, unit_id, subtree in rows:
        # The supervisors of the sending unit send; everyone below receives.
        sender = unit_id == room.unit_id and bool(subtree)
        wanted[user_id] = (
            OWNER if user_id == room.creator_id else (MODERATOR if sender else "member")
        )
    return wanted


def sync_room(session: Session, room: ChatRoom, context: AuditContext = SYSTEM) -> int:
    """Join those who belong in a hierarchy room and remove those who no longer do; how many
    memberships changed. Each change is a state event, audited, with its change event."""
    if room.kind not in (UNIT_CHANNEL, BROADCAST):
        return 0
    wanted = _wanted(session, room)
    joined = set(timeline.joined_user_ids(session, room.id))
    changed = 0
    for user_id in sorted(wanted):
        role = wanted[user_id]
        member = timeline.member_of(session, room.id, user_id)
        if member is not None and member.membership == JOIN and member.role == role:
            continue
        changed += timeline.set_membership(
            session,
            room,
            user_id=user_id,
            membership=JOIN,
            role=role,
            actor_id=None,
            context=context,
        )
    for user_id in sorted(joined - wanted.keys()):
        changed += timeline.set_membership(
            session, room, user_id=user_id, membership=LEAVE, actor_id=None, context=context
        )
    return changed


def rooms_for_units(session: Session, unit_ids: set[int]) -> list[ChatRoom]:
    """The channels of these units and the broadcasts from them or any unit above them."""
    if not unit_ids:
        return []
    above = select(UnitClosure.ancestor_id).where(UnitClosure.descendant_id.in_(unit_ids))
    return list(
        session.scalars(
            select(ChatRoom)
            .where(
                ((ChatRoom.kind == UNIT_CHANNEL) & ChatRoom.unit_id.in_(unit_ids))
                | ((ChatRoom.kind == BROADCAST) & ChatRoom.unit_id.in_(above))
            )
            .order_by(ChatRoom.id)
        )
    )


USER_KINDS = (
    identity_events.USER_CREATED,
    identity_events.USER_MOVED,
    identity_events.USER_DISABLED,
    identity_events.USER_ENABLED,
)
UNIT_KINDS = (identity_events.UNIT_CREATED, identity_events.UNIT_MOVED)


@stream.consumer(CONSUMER, kinds=[*USER_KINDS, *UNIT_KINDS])
def follow_hierarchy(session: Session, batch: Sequence[stream.Event]) -> None:
    """Keep unit channels and broadcasts in step with postings, transfers and the unit tree."""
    units: set[int] = set()
    every_broadcast = False
    for event in batch:
        if event.kind == identity_events.UNIT_CREATED:
            ensure_unit_channel(session, event.subject_id)
        elif event.kind == identity_events.UNIT_MOVED:
            every_broadcast = True
        for key in ("unit_id", "from_unit_id"):
            value = event.data.get(key)
            if isinstance(value, int) and event.kind in USER_KINDS:
                units.add(value)
    rooms = {room.id: room for room in rooms_for_units(session, units)}
    if every_broadcast:
        for room in session.scalars(select(ChatRoom).where(ChatRoom.kind == BROADCAST)):
            rooms[room.id] = room
    for unit_id in sorted(units):
        channel = ensure_unit_channel(session, unit_id)
        if channel is not None:
            rooms[channel.id] = channel
    for room_id in sorted(rooms):  # one order for every node
        sync_room(session, rooms[room_id])
