"""JSON routes for groups of users (share targets): each user lists the groups they may see
(``access.policy.group_reach``), administrators manage them."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from polaris.db.uow import transaction
from polaris.deps import AdminCaller, CurrentCaller, DbSession
from polaris.identity import groups, users
from polaris.web.params import Id

router = APIRouter(tags=["groups"])


class GroupRead(BaseModel):
    id: int
    name: str
    unit_id: int | None
    member_ids: list[int]


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    unit_id: Id | None = None


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)


@router.get("/groups", response_model=list[GroupRead])
def list_groups(caller: CurrentCaller, session: DbSession) -> list[GroupRead]:
    with transaction(session):
        return [
            GroupRead(id=group.id, name=group.name, unit_id=group.unit_id, member_ids=members)
            for group, members in groups.list_groups(session=session, actor=caller.actor)
        ]


@router.post("/admin/groups", response_model=GroupRead, status_code=201)
def create_group(body: GroupCreate, caller: AdminCaller, session: DbSession) -> GroupRead:
    context = caller.context
    with transaction(session):
        group = groups.create_group(
            session=session, name=body.name, unit_id=body.unit_id, context=context
        )
        return GroupRead(id=group.id, name=group.name, unit_id=group.unit_id, member_ids=[])


@router.post("/admin/groups/{group_id}/members", status_code=204)
def add_member(group_id: Id, body: MemberAdd, caller: AdminCaller, session: DbSession) -> Response:
    context = caller.context
    with transaction(session):
        user = users.get_by_username(session=session, username=body.username)
        groups.add_member(session=session, group_id=group_id, user_id=user.id, context=context)
    return Response(status_code=204)


@router.delete("/admin/groups/{group_id}/members/{username}", status_code=204)
def remove_member(group_id: Id, username: str, caller: AdminCaller, session: DbSession) -> Response:
    context = caller.context
    with transaction(session):
        user = users.get_by_username(session=session, username=username)
        groups.remove_member(session=session, group_id=group_id, user_id=user.id, context=context)
    return Response(status_code=204)
