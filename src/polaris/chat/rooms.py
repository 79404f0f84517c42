"""Rooms and membership: direct rooms (one per pair), groups, invite, join, leave, kick, renaming.

Unit channels and broadcasts are made in ``channels`` and ``broadcasts``: their members follow the
hierarchy, so nobody invites into them or leaves them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Actor, ChatAction, Classification
from polaris.audit.context import AuditContext
from polaris.chat import events, texts, timeline
from polaris.chat.models import (
    BAN,
    DIRECT,
    GROUP,
    INVITE,
    JOIN,
    LEAVE,
    MODERATOR,
    OWNER,
    STATE,
    ChatEvent,
    ChatMember,
    ChatRoom,
)
from polaris.clock import utcnow
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity.models import User

#: An id no room has: a missing room is looked up like any other (same queries, same answer).
NO_ROOM = 0


def require_room(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    action: ChatAction,
    classification: Classification = Classification.UNCLASSIFIED,
) -> ChatRoom:
    """The room if the actor may do ``action`` in it; ``NotFound`` alike for a missing room and
    one the actor is not in (``access.require_chat`` decides and audits)."""
    room, room_facts = timeline.facts(session, room_id, actor.user_id, classification)
    access.require_chat(
        session=session, actor=actor, action=action, room=room_facts, context=context
    )
    assert room is not None  # a missing room is never allowed
    return room


def require_event(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    event_key: str,
    action: ChatAction,
) -> tuple[ChatRoom, ChatEvent]:
    """A timeline event and its room, if the actor may do ``action`` in the room; a missing or
    redacted event answers like a room the actor is not in."""
    event = timeline.event_by_key(session, event_key)
    gone = event is None or event.redacted_at is not None
    room_id = NO_ROOM if gone or event is None else event.room_id
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=action
    )
    assert event is not None
    return room, event


def new_room(
    session: Session,
    context: AuditContext,
    *,
    kind: str,
    name: str,
    topic: str | None = None,
    unit_id: int | None = None,
    direct_key: str | None = None,
    creator_id: int | None = None,
) -> ChatRoom:
    room = ChatRoom(
        kind=kind,
        name=name,
        topic=topic,
        unit_id=unit_id,
        direct_key=direct_key,
        creator_id=creator_id,
        last_seq=0,
        created_at=utcnow(),
    )
    session.add(room)
    session.flush()
    create = timeline.append_event(
        session, room, sender_id=creator_id, kind=STATE, state_type="create", state_value=kind
    )
    if kind != DIRECT:  # a direct room has no name of its own: clients show the other person
        timeline.append_event(
            session, room, sender_id=creator_id, kind=STATE, state_type="name", body=name
        )
    if topic is not None:
        timeline.append_event(
            session, room, sender_id=creator_id, kind=STATE, state_type="topic", body=topic
        )
    timeline.audit_room(session, context, "chat.room.create", room, detail={"kind": kind})
    events.changed_by(session, events.ROOM_CREATED, create, actor_id=creator_id, unit_id=unit_id)
    return room


def _require_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        raise NotFound("user not found", code="chat_user_not_found")
    return user


def direct_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def create_direct(
    *, session: Session, actor: Actor, context: AuditContext, other_user_id: int
) -> ChatRoom:
    """The direct room of the actor and ``other_user_id``: the existing one if there is one (both
    rejoin it if they had left), else a new one with both joined."""
    if other_user_id == actor.user_id:
        raise ValidationFailed("a direct room needs another user", code="chat_direct_self")
    access.require_chat_start(session=session, actor=actor, context=context)
    _require_user(session, other_user_id)
    key = direct_key(actor.user_id, other_user_id)
    room = session.scalars(select(ChatRoom).where(ChatRoom.direct_key == key)).first()
    if room is None:
        try:
            with session.begin_nested():
                room = new_room(
                    session,
                    context,
                    kind=DIRECT,
                    name=key,
                    direct_key=key,
                    creator_id=actor.user_id,
                )
        except IntegrityError:  # made by the other one at the same moment
            room = session.scalars(select(ChatRoom).where(ChatRoom.direct_key == key)).one()
    for user_id in (actor.user_id, other_user_id):
        member = timeline.member_of(session, room.id, user_id)
        if member is None or member.membership != BAN:
            timeline.set_membership(
                session,
                room,
                user_id=user_id,
                membership=JOIN,
                role=OWNER,
                actor_id=actor.user_id,
                context=context,
            )
    return room


def create_group(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    name: str,
    topic: str | None = None,
    invite_user_ids: tuple[int, ...] = (),
) -> ChatRoom:
    """A group room with the actor as its owner; ``invite_user_ids`` are invited."""
    clean = texts.clean_name(name)
    clean_topic = texts.clean_topic(topic)
    access.require_chat_start(session=session, actor=actor, context=context)
    room = new_room(
        session,
        context,
        kind=GROUP,
        name=clean,
        topic=clean_topic,
        creator_id=actor.user_id,
    )
    timeline.set_membership(
        session,
        room,
        user_id=actor.user_id,
        membership=JOIN,
        role=OWNER,
        actor_id=actor.user_id,
        context=context,
    )
    for user_id in invite_user_ids:
        invite(session=session, actor=actor, context=context, room_id=room.id, user_id=user_id)
    return room


def invite(
    *, session: Session, actor: Actor, context: AuditContext, room_id: int, user_id: int
) -> None:
    """Invite ``user_id`` into a group (any member may); inviting a member again changes nothing.
    A banned user is not invited back."""
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.INVITE
    )
    _require_user(session, user_id)
    member = timeline.member_of(session, room.id, user_id)
    if member is not None and member.membership in (JOIN, INVITE):
        return
    if member is not None and member.membership == BAN:
        raise Conflict("this user is banned from the room", code="chat_user_banned")
    timeline.set_membership(
        session,
        room,
        user_id=user_id,
        membership=INVITE,
        actor_id=actor.user_id,
        context=context,
    )


def join(*, session: Session, actor: Actor, context: AuditContext, room_id: int) -> ChatRoom:
    """Accept an invitation (joining a room one is in already changes nothing)."""
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.JOIN
    )
    timeline.set_membership(
        session,
        room,
        user_id=actor.user_id,
        membership=JOIN,
        actor_id=actor.user_id,
        context=context,
    )
    return room


def leave(*, session: Session, actor: Actor, context: AuditContext, room_id: int) -> None:
    """Leave a room, or decline an invitation. Unit channels and broadcasts follow the hierarchy:
    their members cannot leave them."""
    room, room_facts = timeline.facts(session, room_id, actor.user_id)
    action = ChatAction.JOIN if room_facts.membership == INVITE else ChatAction.READ
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=action
    )
    if room.kind not in (DIRECT, GROUP):
        raise ValidationFailed(
            "members of unit channels and broadcasts follow the hierarchy",
            code="chat_room_follows_units",
        )
    timeline.set_membership(
        session,
        room,
        user_id=actor.user_id,
        membership=LEAVE,
        actor_id=actor.user_id,
        context=context,
    )


def kick(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    user_id: int,
    ban: bool = False,
) -> None:
    """A moderator or owner removes a member (``ban``: and keeps them out) of a group. An owner
    is removed by no one but themself."""
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.MODERATE
    )
    if room.kind != GROUP:
        raise ValidationFailed(
            "members of this room cannot be removed", code="chat_room_follows_units"
        )
    member = timeline.member_of(session, room.id, user_id)
    if member is None or (member.membership in (LEAVE, BAN) and not ban):
        raise NotFound("that user is not in the room", code="chat_not_a_member")
    if member.role == OWNER and user_id != actor.user_id:
        raise ValidationFailed("an owner cannot be removed", code="chat_owner_stays")
    timeline.set_membership(
        session,
        room,
        user_id=user_id,
        membership=BAN if ban else LEAVE,
        actor_id=actor.user_id,
        context=context,
    )


def set_role(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    user_id: int,
    role: str,
) -> None:
    """An owner or moderator makes a joined member a moderator, or a member again."""
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.MODERATE
    )
    member = timeline.member_of(session, room.id, user_id)
    if member is None or member.membership != JOIN:
        raise NotFound("that user is not in the room", code="chat_not_a_member")
    if role not in ("member", MODERATOR) or member.role == OWNER:
        raise ValidationFailed("a role is member or moderator", code="chat_bad_role")
    timeline.set_membership(
        session,
        room,
        user_id=user_id,
        membership=JOIN,
        role=role,
        actor_id=actor.user_id,
        context=context,
    )


def rename(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    name: str | None = None,
    topic: str | None = None,
) -> ChatRoom:
    """A moderator sets a group's name or topic (a state event each)."""
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.MODERATE
    )
    changes: list[tuple[str, str | None]] = []
    if name is not None:
        room.name = texts.clean_name(name)
        changes.append(("name", room.name))
    if topic is not None:
        room.topic = texts.clean_topic(topic)
        changes.append(("topic", room.topic))
    for what, value in changes:
        state = timeline.append_event(
            session, room, sender_id=actor.user_id, kind=STATE, state_type=what, body=value
        )
        timeline.audit_room(session, context, f"chat.room.{what}", room)
        events.changed_by(session, events.ROOM_CHANGED, state, actor_id=actor.user_id)
    return room


@dataclass(frozen=True)
class RoomView:
    room: ChatRoom
    membership: str
    role: str


def my_rooms(*, session: Session, actor: Actor) -> list[RoomView]:
    """Rooms the actor is joined to or invited into, newest activity first."""
    rows = session.execute(
        select(ChatRoom, ChatMember)
        .join(ChatMember, ChatMember.room_id == ChatRoom.id)
        .where(ChatMember.user_id == actor.user_id, ChatMember.membership.in_((JOIN, INVITE)))
        .order_by(ChatRoom.id)
    ).all()
    return [RoomView(room, member.membership, member.role) for room, member in rows]


def members(
    *, session: Session, actor: Actor, context: AuditContext, room_id: int
) -> list[ChatMember]:
    """Everyone with a membership in the room (joined, invited, left, banned), for its members."""
    require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.READ
    )
    return list(
        session.scalars(
            select(ChatMember).where(ChatMember.room_id == room_id).order_by(ChatMember.user_id)
        )
    )
