"""JSON routes of the messenger's retention (administrators; ``chat.retention``): the rules of
kinds of room, and legal holds on rooms and on users' messages. Thin: one service call in a
transaction each. A rule is deleted like any retention rule (``DELETE
/admin/retention/rules/{id}``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from polaris.chat import retention
from polaris.db.uow import transaction
from polaris.deps import AdminCaller, DbSession
from polaris.drive import retention as drive_retention
from polaris.drive.models import LegalHold, RetentionRule
from polaris.web.params import Id

router = APIRouter(tags=["chat"])

RoomKind = Literal["direct", "group", "unit_channel", "broadcast"]


class RoomRuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_kind: RoomKind
    keep_messages_days: int = Field(ge=1, le=drive_retention.MAX_DAYS)


class RoomRuleRead(BaseModel):
    id: int
    room_kind: str
    keep_messages_days: int | None

    @classmethod
    def of(cls, rule: RetentionRule) -> RoomRuleRead:
        return cls(
            id=rule.id, room_kind=rule.room_kind or "", keep_messages_days=rule.keep_messages_days
        )


class ChatHoldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ChatHoldRead(BaseModel):
    id: int
    room_id: int | None
    user_id: int | None
    reason: str
    held_by: int | None
    held_at: dt.datetime
    released_at: dt.datetime | None
    release_reason: str | None

    @classmethod
    def of(cls, hold: LegalHold) -> ChatHoldRead:
        return cls(
            id=hold.id,
            room_id=hold.room_id,
            user_id=hold.user_id,
            reason=hold.reason,
            held_by=hold.held_by,
            held_at=hold.held_at,
            released_at=hold.released_at,
            release_reason=hold.release_reason,
        )


@router.get("/admin/chat/retention/rules", response_model=list[RoomRuleRead])
def list_rules(caller: AdminCaller, session: DbSession) -> list[RoomRuleRead]:
    with transaction(session):
        found = drive_retention.list_room_rules(
            session=session, actor=caller.actor, context=caller.context
        )
        return [RoomRuleRead.of(rule) for rule in found]


@router.put("/admin/chat/retention/rules", response_model=RoomRuleRead)
def set_rule(body: RoomRuleSet, caller: AdminCaller, session: DbSession) -> RoomRuleRead:
    """Keep the messages of a kind of room this many days (one rule per kind)."""
    with transaction(session):
        rule = retention.set_room_rule(
            session=session,
            actor=caller.actor,
            context=caller.context,
            kind=body.room_kind,
            days=body.keep_messages_days,
        )
        return RoomRuleRead.of(rule)


@router.get("/admin/chat/holds", response_model=list[ChatHoldRead])
def list_holds(caller: AdminCaller, session: DbSession) -> list[ChatHoldRead]:
    """The legal holds on rooms and users in force."""
    with transaction(session):
        found = retention.list_holds(session=session, actor=caller.actor, context=caller.context)
        return [ChatHoldRead.of(hold) for hold in found]


def _change(
    caller: AdminCaller,
    session: DbSession,
    target: retention.HoldTarget,
    reason: str,
    *,
    place: bool,
) -> ChatHoldRead:
    change = retention.place_hold if place else retention.release_hold
    with transaction(session):
        hold = change(
            session=session,
            actor=caller.actor,
            context=caller.context,
            target=target,
            reason=reason,
        )
        return ChatHoldRead.of(hold)


@router.post("/admin/chat/rooms/{room_id}/hold", response_model=ChatHoldRead, status_code=201)
def hold_room(
    room_id: Id, body: ChatHoldChange, caller: AdminCaller, session: DbSession
) -> ChatHoldRead:
    """Keep every message of the room whatever the retention rules say."""
    return _change(caller, session, retention.HoldTarget(room_id=room_id), body.reason, place=True)


@router.post("/admin/chat/rooms/{room_id}/release", response_model=ChatHoldRead)
def release_room(
    room_id: Id, body: ChatHoldChange, caller: AdminCaller, session: DbSession
) -> ChatHoldRead:
    return _change(caller, session, retention.HoldTarget(room_id=room_id), body.reason, place=False)


@router.post("/admin/chat/users/{user_id}/hold", response_model=ChatHoldRead, status_code=201)
def hold_user(
    user_id: Id, body: ChatHoldChange, caller: AdminCaller, session: DbSession
) -> ChatHoldRead:
    """Keep every message the user sent, in every room."""
    return _change(caller, session, retention.HoldTarget(user_id=user_id), body.reason, place=True)


@router.post("/admin/chat/users/{user_id}/release", response_model=ChatHoldRead)
def release_user(
    user_id: Id, body: ChatHoldChange, caller: AdminCaller, session: DbSession
) -> ChatHoldRead:
    return _change(caller, session, retention.HoldTarget(user_id=user_id), body.reason, place=False)
