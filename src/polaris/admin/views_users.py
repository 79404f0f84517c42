"""Users: a searchable, paged list; create one; disable, enable, reset password or MFA.

Each action is one call of ``polaris.identity.users``, which audits it, the same call the JSON API
and the CLI make. A generated password is shown once, on the answer to the form that made it,
and never stored anywhere but as its hash.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.access.policy import Classification
from polaris.admin._pages import AdminPageCaller, Refusal, admin_page, message_for, refusal
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.errors import NotFound, PolarisError
from polaris.identity import directory, roles, units, user_changes, users
from polaris.web.messages import N_

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: Notices after an action, by the ``done`` query parameter of the page it leads back to.
DONE_NOTICES = {"disabled", "enabled", "mfa_reset", "updated", "moved"}
UNKNOWN_UNIT = N_("No unit has this code.")
UNKNOWN_CLEARANCE = N_("Choose one of the clearance levels.")


@router.get("/admin/users")
def user_list(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    q: str = "",
    unit: str = "",
    below: bool = False,
    role: str = "",
    status: Literal["", "active", "disabled"] = "",
    after: str | None = None,
) -> Response:
    error = None
    unit_code = unit.strip()
    with transaction(session):
        unit_id = None
        if unit_code:
            try:
                unit_id = units.get_by_code(session=session, code=unit_code).id
            except NotFound:
                error = UNKNOWN_UNIT
        page = None
        if error is None:
            page = directory.list_users(
                session=session,
                where=directory.UserFilter(
                    search=q,
                    unit_id=unit_id,
                    include_below=below,
                    role=role or None,
                    disabled={"": None, "active": False, "disabled": True}[status],
                ),
                after=after,
                limit=PAGE_SIZE,
            )
        all_roles = roles.list_roles(session=session)
    filters = {"q": q, "unit": unit_code, "below": below, "role": role, "status": status}
    return admin_page(
        request,
        caller,
        "admin/users.html",
        section="users",
        page=page,
        filters=filters,
        after=after,
        roles=all_roles,
        error=error,
    )


@router.get("/admin/users/new")
def new_user_form(
    request: Request, caller: AdminPageCaller, session: DbSession, unit: str = ""
) -> Response:
    return _user_form(request, caller, session, values={"unit_code": unit})


def _user_form(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    *,
    values: dict[str, str],
    status_code: int = 200,
    error: str | None = None,
    problem: users.Problem | None = None,
) -> Response:
    with transaction(session):
        all_roles = roles.list_roles(session=session)
        all_units = units.list_units(session=session)
    return admin_page(
        request,
        caller,
        "admin/user_new.html",
        section="users",
        status_code=status_code,
        roles=all_roles,
        units=all_units,
        values=values,
        error=error,
        problem=problem,
    )


@router.post("/admin/users/new")
def create_user(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
    username: str = Form(""),
    full_name: str = Form(""),
    unit_code: str = Form(""),
    role: str = Form(""),
    rank: str = Form(""),
    clearance: Literal["", "unclassified", "restricted", "confidential", "secret"] = Form(""),
) -> Response:
    values = {
        "username": username,
        "full_name": full_name,
        "unit_code": unit_code,
        "role": role,
        "rank": rank,
        "clearance": clearance,
    }
    spec = users.UserSpec(
        username=username.strip(),
        full_name=full_name.strip(),
        unit_code=unit_code.strip(),
        role=role,
        rank=rank.strip() or None,
        clearance=Classification[clearance.upper()] if clearance else None,
    )
    try:
        with transaction(session):
            created = users.create_user(
                session=session,
                spec=spec,
                passwords=instance.auth.passwords,
                context=caller.context,
            )
            username = created.user.username
            password = created.initial_password
    except PolarisError as error:
        problem = error.problem if isinstance(error, users.InvalidUser) else None
        return _user_form(
            request,
            caller,
            session,
            values=values,
            status_code=error.status,
            error=message_for(error),
            problem=problem,
        )
    return admin_page(
        request,
        caller,
        "admin/password_once.html",
        section="users",
        status_code=201,
        no_store=True,
        username=username,
        password=password,
        created=True,
    )


@router.get("/admin/user/{username}")
def user_page(
    username: str,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    done: str = "",
) -> Response:
    return show_user(request, caller, session, username, done=done)


def show_user(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    username: str,
    *,
    done: str = "",
    refused: Refusal | None = None,
) -> Response:
    """A user's page; after a refused edit or transfer, with that form as typed and the reason
    beside it (``refused``), answered with the refusal's status."""
    with transaction(session):
        found = users.get_by_username(session=session, username=username)
        all_roles = roles.list_roles(session=session)
        all_units = units.list_units(session=session)
    values = {
        "full_name": found.full_name,
        "rank": found.rank or "",
        "role": found.role_code,
        "clearance": Classification(found.clearance).name.lower(),
        "unit_code": found.unit.code,
    }
    if refused is not None:
        values |= refused.values
    return admin_page(
        request,
        caller,
        "admin/user.html",
        section="users",
        status_code=refused.status if refused else 200,
        person=found,
        roles=all_roles,
        units=all_units,
        values=values,
        refused=refused,
        done=done if done in DONE_NOTICES else None,
    )


def _back_to_user(username: str, done: str) -> Response:
    return RedirectResponse(f"/admin/user/{username}?done={done}", status_code=303)


@router.post("/admin/user/{username}/disable")
def disable_user(username: str, caller: AdminPageCaller, session: DbSession) -> Response:
    with transaction(session):
        found = users.disable_user(session=session, username=username, context=caller.context)
        name = found.username
    return _back_to_user(name, "disabled")


@router.post("/admin/user/{username}/enable")
def enable_user(username: str, caller: AdminPageCaller, session: DbSession) -> Response:
    with transaction(session):
        found = users.enable_user(session=session, username=username, context=caller.context)
        name = found.username
    return _back_to_user(name, "enabled")


@router.post("/admin/user/{username}/reset-mfa")
def reset_mfa(username: str, caller: AdminPageCaller, session: DbSession) -> Response:
    with transaction(session):
        found = users.reset_mfa(session=session, username=username, context=caller.context)
        name = found.username
    return _back_to_user(name, "mfa_reset")


@router.post("/admin/user/{username}/reset-password")
def reset_password(
    username: str,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    with transaction(session):
        generated = users.reset_password(
            session=session,
            username=username,
            passwords=instance.auth.passwords,
            context=caller.context,
        )
        name = users.get_by_username(session=session, username=username).username
    return admin_page(
        request,
        caller,
        "admin/password_once.html",
        section="users",
        no_store=True,
        username=name,
        password=generated,
        created=False,
    )


@router.post("/admin/user/{username}/edit")
def edit_user(
    username: str,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    full_name: str = Form(""),
    rank: str = Form(""),
    role: str = Form(""),
    clearance: str = Form(""),
) -> Response:
    """Name, rank, role and clearance, in one audited change (``user_changes.update_user``)."""
    values = {"full_name": full_name, "rank": rank, "role": role, "clearance": clearance}
    level = Classification.__members__.get(clearance.upper())
    try:
        if level is None:
            raise users.InvalidUser(users.Problem(UNKNOWN_CLEARANCE))
        with transaction(session):
            changes = user_changes.UserChanges(
                full_name=full_name, rank=rank, role=role, clearance=level
            )
            found = user_changes.update_user(
                session=session, username=username, changes=changes, context=caller.context
            )
            name = found.username
    except PolarisError as error:
        return show_user(request, caller, session, username, refused=refusal("edit", error, values))
    return _back_to_user(name, "updated")


@router.post("/admin/user/{username}/move")
def move_user(
    username: str,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    unit_code: str = Form(""),
) -> Response:
    """A transfer to another unit (``user_changes.move_user``, whose docstring says what happens
    to the files)."""
    values = {"unit_code": unit_code}
    try:
        with transaction(session):
            found = user_changes.move_user(
                session=session, username=username, unit_code=unit_code, context=caller.context
            )
            name = found.username
    except PolarisError as error:
        return show_user(request, caller, session, username, refused=refusal("move", error, values))
    return _back_to_user(name, "moved")
