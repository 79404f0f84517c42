"""The unit tree: the hierarchy with each unit's code, kind and number of users."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from polaris.admin._pages import AdminPageCaller, admin_page
from polaris.admin.tree import build_tree
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.identity import directory, units

router = APIRouter(include_in_schema=False)

#: Levels of the tree shown open at first (HQ and ranges); the rest open on demand.
OPEN_DEPTH = 2


@router.get("/admin")
def admin_home(caller: AdminPageCaller) -> Response:
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/units")
def unit_tree(request: Request, caller: AdminPageCaller, session: DbSession) -> Response:
    with transaction(session):
        roots = build_tree(
            units.list_units(session=session), directory.count_by_unit(session=session)
        )
    return admin_page(
        request, caller, "admin/units.html", section="units", roots=roots, open_depth=OPEN_DEPTH
    )
