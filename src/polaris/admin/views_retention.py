"""Retention rules and legal holds: the page that lists them, and its forms (add, change and
delete a rule; place and lift a hold, also from a file's page).

Each form is one call of ``drive.retention`` or ``drive.holds`` with the administrator as actor,
the calls the JSON API and ``polaris retention`` make: they ask ``access.gate`` and audit
(``retention.rule_set``, ``retention.rule_delete``, ``node.hold``, ``node.release``). A refused
form answers with the page again, the error on top and what was typed kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.admin._pages import (
    ADMIN_ERRORS,
    AdminPageCaller,
    admin_page,
    form_action,
    message_for,
)
from polaris.db.uow import transaction
from polaris.deps import Caller, CurrentInstance, DbSession
from polaris.drive import holds, retention, retention_listing
from polaris.drive.spaces import SpaceDefaults, space_defaults
from polaris.errors import PolarisError, ValidationFailed
from polaris.web.messages import N_
from polaris.web.pages import safe_next
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)

PAGE = "/admin/retention"
DONE_NOTICES = {
    "rule_set": N_("The rule is saved."),
    "rule_deleted": N_("The rule is deleted."),
    "held": N_("The legal hold is placed."),
    "lifted": N_("The legal hold is lifted."),
}
LEVELS = {level.name.lower(): level for level in Classification}


@router.get(PAGE)
def retention_page(
    request: Request, caller: AdminPageCaller, session: DbSession, done: str = ""
) -> Response:
    return _page(request, caller, session, notice=DONE_NOTICES.get(done))


def _page(
    request: Request,
    caller: Caller,
    session: Session,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    with transaction(session):
        actor, context = caller.actor, caller.context
        rules = retention.list_rules(session=session, actor=actor, context=context)
        found = holds.list_holds(session=session, actor=actor, context=context)
        rule_views = retention_listing.rule_views(session, rules)
        hold_views = retention_listing.hold_views(session, found)
    return admin_page(
        request,
        caller,
        "admin/retention.html",
        section="retention",
        status_code=status_code,
        notice=notice,
        error=error,
        values=values or {},
        rules=rule_views,
        holds=hold_views,
        levels=list(LEVELS),
        max_years=retention.MAX_YEARS,
        max_days=retention.MAX_DAYS,
    )


def _count(text: str) -> int | None:
    """A whole number of years or days from the form; None when left empty."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed("not a whole number", code="retention_duration")
    return int(text)


def _node_number(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise ValidationFailed("not a node number", code="unknown_node")
    return int(text)


def _target(
    session: Session, defaults: SpaceDefaults, scope: str, space: str, folder: str, level: str
) -> retention.Target:
    """What the add form names: the space of a unit code or username, a folder by its number,
    or a level."""
    if scope == "space":
        found = retention_listing.space_named(session, space, defaults)
        if found is None:
            raise ValidationFailed("no such unit or user", code="unknown_space")
        return retention.Target(space_id=found.id)
    if scope == "folder":
        node_id = _node_number(folder)
        if not retention_listing.node_exists(session, node_id):
            raise ValidationFailed("no such node", code="unknown_node")
        return retention.Target(node_id=node_id)
    if scope == "level" and level in LEVELS:
        return retention.Target(classification=int(LEVELS[level]))
    raise ValidationFailed("choose what the rule applies to", code="retention_target")


@router.post(f"{PAGE}/rules")
def add_rule(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
    scope: str = Form(""),
    space: str = Form(""),
    folder: str = Form(""),
    level: str = Form(""),
    keep_versions_years: str = Form(""),
    purge_trash_days: str = Form(""),
) -> Response:
    values = {
        "scope": scope,
        "space": space,
        "folder": folder,
        "level": level,
        "keep_versions_years": keep_versions_years,
        "purge_trash_days": purge_trash_days,
    }
    return form_action(
        session,
        lambda: retention.set_rule(
            session=session,
            actor=caller.actor,
            context=caller.context,
            target=_target(session, space_defaults(instance.settings), scope, space, folder, level),
            keep_versions_years=_count(keep_versions_years),
            purge_trash_days=_count(purge_trash_days),
        ),
        done=f"{PAGE}?done=rule_set#rules",
        refused=lambda error: _refused(request, caller, session, error, values),
    )


@router.post(f"{PAGE}/rules/{{rule_id}}")
def change_rule(
    rule_id: Id,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    keep_versions_years: str = Form(""),
    purge_trash_days: str = Form(""),
) -> Response:

    def change() -> None:
        rule = retention.get_rule(
            session=session, actor=caller.actor, context=caller.context, rule_id=rule_id
        )
        retention.set_rule(
            session=session,
            actor=caller.actor,
            context=caller.context,
            target=retention.target_of(rule),
            keep_versions_years=_count(keep_versions_years),
            purge_trash_days=_count(purge_trash_days),
        )

    return form_action(
        session,
        change,
        done=f"{PAGE}?done=rule_set#rules",
        refused=lambda error: _refused(request, caller, session, error),
    )


@router.post(f"{PAGE}/rules/{{rule_id}}/delete")
def delete_rule(
    rule_id: Id,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    confirm: str = Form(""),
) -> Response:
    return form_action(
        session,
        lambda: retention.delete_rule(
            session=session, actor=caller.actor, context=caller.context, rule_id=rule_id
        ),
        confirm=confirm,
        done=f"{PAGE}?done=rule_deleted#rules",
        refused=lambda error: _refused(request, caller, session, error),
    )


@router.post("/admin/holds")
def place_hold(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    node: str = Form(""),
    reason: str = Form(""),
    next_url: str = Form("", alias="next"),
) -> Response:
    """Place a hold from this page or from a file's page (``next`` leads back there)."""
    values = {"node": node, "reason": reason}
    back = safe_next(next_url)
    if back == "/":
        back = f"{PAGE}?done=held#holds"
    return form_action(
        session,
        lambda: holds.place_hold(
            session=session,
            actor=caller.actor,
            context=caller.context,
            node_id=_node_number(node),
            reason=reason,
        ),
        done=back,
        refused=lambda error: _refused(request, caller, session, error, values),
    )


@router.post("/admin/holds/{node_id}/release")
def lift_hold(
    node_id: Id,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    reason: str = Form(""),
) -> Response:
    return form_action(
        session,
        lambda: holds.release_hold(
            session=session,
            actor=caller.actor,
            context=caller.context,
            node_id=node_id,
            reason=reason,
        ),
        done=f"{PAGE}?done=lifted#holds",
        refused=lambda error: _refused(
            request, caller, session, error, {"lift": str(node_id), "reason": reason}
        ),
    )


def _refused(
    request: Request,
    caller: Caller,
    session: Session,
    error: PolarisError,
    values: dict[str, str] | None = None,
) -> Response:
    # A node that is not there (``drive.holds``, ``drive.retention``): say which kind of thing.
    missing = error.code == "not_found"
    message = ADMIN_ERRORS["unknown_node"] if missing else message_for(error)
    return _page(request, caller, session, error=message, status_code=error.status, values=values)
