"""Messenger routes for rooms and membership: list, create (direct, group, broadcast), invite,
join, leave, kick and the member list."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.chat import broadcasts, rooms
from polaris.chat.present import user_names
from polaris.chat.schemas import (
    BroadcastCreate,
    DirectCreate,
    GroupCreate,
    Kick,
    MemberRead,
    RoomList,
    RoomRead,
    UserRef,
)
from polaris.chat.summaries import room_list
from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    DbSession,
    ReadCaller,
)
from polaris.web.params import Id

router = APIRouter()


@router.get("/rooms", response_model=RoomList)
def list_rooms(caller: ReadCaller, session: DbSession) -> RoomList:
    """Rooms joined or invited into, most recent activity first, with unread counts."""
    with transaction(session, read_only=True):
        return room_list(session, caller.actor)


def _room_read(session: Session, actor: Actor, room_id: int) -> RoomRead:
    view = next(v for v in rooms.my_rooms(session=session, actor=actor) if v.room.id == room_id)
    return RoomRead.of(view)


@router.post("/rooms/direct", response_model=RoomRead, status_code=201)
def create_direct(body: DirectCreate, caller: CurrentCaller, session: DbSession) -> RoomRead:
    """The direct room with ``user_id`` (the existing one if there is one)."""
    with transaction(session):
        room = rooms.create_direct(
            session=session, actor=caller.actor, context=caller.context, other_user_id=body.user_id
        )
        return _room_read(session, caller.actor, room.id)


@router.post("/rooms/group", response_model=RoomRead, status_code=201)
def create_group(body: GroupCreate, caller: CurrentCaller, session: DbSession) -> RoomRead:
    with transaction(session):
        room = rooms.create_group(
            session=session,
            actor=caller.actor,
            context=caller.context,
            name=body.name,
            topic=body.topic,
            invite_user_ids=tuple(body.invite),
        )
        return _room_read(session, caller.actor, room.id)


@router.post("/rooms/broadcast", response_model=RoomRead, status_code=201)
def create_broadcast(body: BroadcastCreate, caller: CurrentCaller, session: DbSession) -> RoomRead:
    """A broadcast from ``unit_id`` (the caller's unit by default) to the units below it."""
    with transaction(session):
        room = broadcasts.create_broadcast(
            session=session,
            actor=caller.actor,
            context=caller.context,
            name=body.name,
            topic=body.topic,
            unit_id=body.unit_id,
        )
        return _room_read(session, caller.actor, room.id)


@router.post("/rooms/{room_id}/invite", status_code=204)
def invite(room_id: Id, body: UserRef, caller: CurrentCaller, session: DbSession) -> Response:
    with transaction(session):
        rooms.invite(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            user_id=body.user_id,
        )
    return Response(status_code=204)


@router.post("/rooms/{room_id}/join", response_model=RoomRead)
def join(room_id: Id, caller: CurrentCaller, session: DbSession) -> RoomRead:
    with transaction(session):
        rooms.join(session=session, actor=caller.actor, context=caller.context, room_id=room_id)
        return _room_read(session, caller.actor, room_id)


@router.post("/rooms/{room_id}/leave", status_code=204)
def leave(room_id: Id, caller: CurrentCaller, session: DbSession) -> Response:
    """Leave a direct room or group, or decline an invitation."""
    with transaction(session):
        rooms.leave(session=session, actor=caller.actor, context=caller.context, room_id=room_id)
    return Response(status_code=204)


@router.post("/rooms/{room_id}/kick", status_code=204)
def kick(room_id: Id, body: Kick, caller: CurrentCaller, session: DbSession) -> Response:
    with transaction(session):
        rooms.kick(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            user_id=body.user_id,
            ban=body.ban,
        )
    return Response(status_code=204)


@router.get("/rooms/{room_id}/members", response_model=list[MemberRead])
def list_members(room_id: Id, caller: ReadCaller, session: DbSession) -> list[MemberRead]:
    with transaction(session, read_only=True):
        found = rooms.members(
            session=session, actor=caller.actor, context=caller.context, room_id=room_id
        )
        names = user_names(session, [m.user_id for m in found])
        return [
            MemberRead(
                user_id=m.user_id,
                name=names.get(m.user_id, ""),
                membership=m.membership,
                role=m.role,
            )
            for m in found
        ]
