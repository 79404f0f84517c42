"""Groups: the list, create one, and one group's members (add by username, remove).

Each change is one call of ``polaris.identity.groups``, which audits it and appends its event.
The list and a group are read as the administrator (``access.policy.group_reach``: every group).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.admin._pages import AdminPageCaller, Refusal, admin_page, refusal
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.errors import NotFound, PolarisError
from polaris.identity import groups, units, users

router = APIRouter(include_in_schema=False)

DONE_NOTICES = {"created", "added", "removed"}


class UnknownUnit(NotFound):
    code = "unknown_unit"


class UnknownUser(NotFound):
    code = "unknown_user"


@router.get("/admin/groups")
def group_list(request: Request, caller: AdminPageCaller, session: DbSession) -> Response:
    return _groups(request, caller, session)


def _groups(
    request: Request, caller: AdminPageCaller, session: DbSession, refused: Refusal | None = None
) -> Response:
    with transaction(session):
        found = groups.list_groups(session=session, actor=caller.actor)
        unit_ids = {group.unit_id for group, _ in found if group.unit_id is not None}
        by_id = {unit.id: unit for unit in units.list_units(session=session) if unit.id in unit_ids}
    return admin_page(
        request,
        caller,
        "admin/groups.html",
        section="groups",
        status_code=refused.status if refused else 200,
        groups=[(group, len(members), by_id.get(group.unit_id or 0)) for group, members in found],
        refused=refused,
        values=refused.values if refused else {},
    )


@router.post("/admin/groups/new")
def create_group(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    name: str = Form(""),
    unit_code: str = Form(""),
) -> Response:
    values = {"name": name, "unit_code": unit_code}
    try:
        with transaction(session):
            unit_id = None
            if unit_code.strip():
                try:
                    unit_id = units.get_by_code(session=session, code=unit_code.strip()).id
                except NotFound:
                    raise UnknownUnit("no unit has this code") from None
            made = groups.create_group(
                session=session, name=name, unit_id=unit_id, context=caller.context
            )
            group_id = made.id
    except PolarisError as error:
        return _groups(request, caller, session, refusal("create", error, values))
    return RedirectResponse(f"/admin/group/{group_id}?done=created", status_code=303)


@router.get("/admin/group/{group_id}")
def group_page(
    group_id: int, request: Request, caller: AdminPageCaller, session: DbSession, done: str = ""
) -> Response:
    return _group(request, caller, session, group_id, done=done)


def _group(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    group_id: int,
    *,
    done: str = "",
    refused: Refusal | None = None,
) -> Response:
    with transaction(session):
        group = groups.get_group(session=session, actor=caller.actor, group_id=group_id)
        member_ids = groups.member_ids(session=session, group_id=group.id)
        members = sorted(
            users.by_ids(session=session, user_ids=member_ids).values(),
            key=lambda user: user.username,
        )
        unit = units.get_by_id(session=session, unit_id=group.unit_id)
    return admin_page(
        request,
        caller,
        "admin/group.html",
        section="groups",
        status_code=refused.status if refused else 200,
        group=group,
        unit=unit,
        members=members,
        refused=refused,
        values=refused.values if refused else {},
        done=done if done in DONE_NOTICES else None,
    )


@router.post("/admin/group/{group_id}/add")
def add_member(
    group_id: int,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    username: str = Form(""),
) -> Response:
    values = {"username": username}
    try:
        with transaction(session):
            group = groups.get_group(session=session, actor=caller.actor, group_id=group_id)
            try:
                user = users.get_by_username(session=session, username=username)
            except NotFound:
                raise UnknownUser("no user has this username") from None
            groups.add_member(
                session=session, group_id=group.id, user_id=user.id, context=caller.context
            )
    except PolarisError as error:
        return _group(request, caller, session, group_id, refused=refusal("add", error, values))
    return RedirectResponse(f"/admin/group/{group_id}?done=added", status_code=303)


@router.post("/admin/group/{group_id}/remove")
def remove_member(
    group_id: int,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    user_id: int = Form(0),
) -> Response:
    try:
        with transaction(session):
            group = groups.get_group(session=session, actor=caller.actor, group_id=group_id)
            groups.remove_member(
                session=session, group_id=group.id, user_id=user_id, context=caller.context
            )
    except PolarisError as error:
        return _group(request, caller, session, group_id, refused=refusal("remove", error, {}))
    return RedirectResponse(f"/admin/group/{group_id}?done=removed", status_code=303)
