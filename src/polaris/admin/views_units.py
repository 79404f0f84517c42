"""The unit tree, and one unit's page: create a unit, rename it (English and Hindi), move it.

Each change is one call of ``polaris.identity.units``, which audits it and appends its event; a
refused form comes back as typed with the reason beside it.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.admin._pages import AdminPageCaller, Refusal, admin_page, refusal
from polaris.admin.tree import build_tree
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.errors import PolarisError, ValidationFailed
from polaris.identity import directory, units

router = APIRouter(include_in_schema=False)

#: Levels of the tree shown open at first (HQ and ranges); the rest open on demand.
OPEN_DEPTH = 2
#: Notices after a change, by the ``done`` query parameter.
DONE_NOTICES = {"created", "updated", "moved"}


@router.get("/admin")
def admin_home(caller: AdminPageCaller) -> Response:
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/units")
def unit_tree(request: Request, caller: AdminPageCaller, session: DbSession) -> Response:
    return _tree(request, caller, session)


def _tree(
    request: Request, caller: AdminPageCaller, session: DbSession, refused: Refusal | None = None
) -> Response:
    with transaction(session):
        roots = build_tree(
            units.list_units(session=session), directory.count_by_unit(session=session)
        )
    return admin_page(
        request,
        caller,
        "admin/units.html",
        section="units",
        status_code=refused.status if refused else 200,
        roots=roots,
        open_depth=OPEN_DEPTH,
        refused=refused,
        values=refused.values if refused else {},
    )


@router.post("/admin/units/new")
def create_unit(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    code: str = Form(""),
    name: str = Form(""),
    name_hi: str = Form(""),
    kind: str = Form(""),
    parent_code: str = Form(""),
) -> Response:
    values = {
        "code": code,
        "name": name,
        "name_hi": name_hi,
        "kind": kind,
        "parent_code": parent_code,
    }
    try:
        try:
            unit_kind = units.UnitKind(kind)
        except ValueError:
            raise ValidationFailed("unknown unit kind", code="unit_kind") from None
        spec = units.UnitSpec(
            code=code.strip(),
            name=name.strip(),
            kind=unit_kind,
            parent_code=parent_code.strip() or None,
            name_hi=name_hi.strip() or None,
        )
        with transaction(session):
            made = units.create_unit(session=session, spec=spec, context=caller.context)
            made_code = made.code
    except PolarisError as error:
        return _tree(request, caller, session, refusal("create", error, values))
    return _to_unit(made_code, "created")


def _to_unit(code: str, done: str) -> Response:
    return RedirectResponse(f"/admin/unit/{code}?done={done}", status_code=303)


@router.get("/admin/unit/{code}")
def unit_page(
    code: str, request: Request, caller: AdminPageCaller, session: DbSession, done: str = ""
) -> Response:
    return _unit(request, caller, session, code, done=done)


def _unit(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    code: str,
    *,
    done: str = "",
    refused: Refusal | None = None,
) -> Response:
    with transaction(session):
        unit = units.get_by_code(session=session, code=code)
        parent = units.get_by_id(session=session, unit_id=unit.parent_id)
        counts = directory.count_by_unit(session=session)
        all_units = units.list_units(session=session)
    values = {
        "name": unit.name,
        "name_hi": unit.name_hi or "",
        "parent_code": parent.code if parent else "",
    }
    if refused is not None:
        values |= refused.values
    return admin_page(
        request,
        caller,
        "admin/unit.html",
        section="units",
        status_code=refused.status if refused else 200,
        unit=unit,
        parent=parent,
        users=counts.get(unit.id, 0),
        units=all_units,
        values=values,
        refused=refused,
        done=done if done in DONE_NOTICES else None,
    )


@router.post("/admin/unit/{code}/edit")
def edit_unit(
    code: str,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    name: str = Form(""),
    name_hi: str = Form(""),
) -> Response:
    values = {"name": name, "name_hi": name_hi}
    try:
        with transaction(session):
            units.update_unit(
                session=session,
                code=code,
                name=name.strip(),
                name_hi=name_hi.strip() or None,
                context=caller.context,
            )
    except PolarisError as error:
        return _unit(request, caller, session, code, refused=refusal("edit", error, values))
    return _to_unit(code, "updated")


@router.post("/admin/unit/{code}/move")
def move_unit(
    code: str,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    parent_code: str = Form(""),
) -> Response:
    values = {"parent_code": parent_code}
    try:
        with transaction(session):
            units.move_unit(
                session=session,
                code=code,
                parent_code=parent_code.strip(),
                context=caller.context,
            )
    except PolarisError as error:
        return _unit(request, caller, session, code, refused=refusal("move", error, values))
    return _to_unit(code, "moved")
