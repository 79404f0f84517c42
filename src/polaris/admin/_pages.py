"""What every administration page needs: an administrator, the frame, and translated errors.

Who is an administrator is decided where the JSON API's is (``access.gate.require_admin``, which
also audits a refusal); a page only asks. Everyone else gets the translated 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import SAFE_METHODS
from polaris.db.uow import transaction
from polaris.deps import Caller, DbSession, operation_of
from polaris.errors import PolarisError, ValidationFailed
from polaris.web.messages import N_, error_message
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.templating import render

#: Texts for the error codes of the services these pages call (the rest are in web.messages).
ADMIN_ERRORS = {
    "duplicate_username": N_("That username is taken."),
    "invalid_user": N_("The user was not created:"),
    "last_admin": N_("This is the last enabled administrator: another must be made first."),
    "cannot_disable_self": N_("You cannot disable your own account."),
    "duplicate_code": N_("A unit has this code already."),
    "unknown_parent": N_("No unit has the parent's code."),
    "unit_kind": N_("Choose the kind of unit."),
    "bad_code": N_("The unit code must be 1 to 64 printable characters."),
    "bad_name": N_("Give the unit a name of at most 255 characters."),
    "parent_required": N_("Every unit but headquarters needs a parent unit."),
    "unit_cycle": N_("A unit cannot be placed under itself or a unit below it."),
    "group_exists": N_("A group has this name already."),
    "group_name": N_("Give the group a name of 1 to 255 characters."),
    "group_not_found": N_("There is no such group."),
    "not_a_member": N_("This user is not a member of the group."),
    "unknown_unit": N_("No unit has this code."),
    "unknown_user": N_("No user has this username."),
    "import_rejected": N_("Nothing was imported. Correct these rows and upload the file again."),
    "passwords_gone": N_("These passwords were already shown, and are not kept."),
    "not_your_import": N_("Only the administrator who started this import may see its passwords."),
    "reason_required": N_("Give the reason: it is kept in the audit log."),
    "reason_too_long": N_("The reason is too long: keep it under 500 characters."),
    "incident_already_on": N_("The incident switch is already on."),
    "incident_not_on": N_("The incident switch is not on."),
    "content_not_found": N_("No file holds this content any more."),
    "not_quarantined": N_("This file is neither quarantined nor held: there is nothing to do."),
    "retention_target": N_(
        "Choose what the rule applies to: a space, a folder or a classification level."
    ),
    "retention_duration": N_(
        "Keep versions from 1 to 100 years and the trash from 1 to 36500 days, as whole "
        "numbers; give at least one of the two."
    ),
    "unknown_space": N_("No unit has this code and no user this username."),
    "unknown_node": N_("No file or folder has this number."),
    "not_a_folder": N_("A rule applies to a folder, not to a file."),
    "rule_not_found": N_("This rule does not exist any more."),
    "already_held": N_("This file or folder is already under a legal hold."),
    "not_held": N_("This file or folder is not under a legal hold."),
}

#: Labels of unit kinds (``identity.units.UnitKind``).
UNIT_KINDS = {
    "hq": N_("Headquarters"),
    "zone": N_("Zone"),
    "range": N_("Range"),
    "district": N_("District"),
    "subdivision": N_("Sub-division"),
    "station": N_("Police station"),
    "branch": N_("Branch"),
}
#: Clearance levels by their number (``access.policy.Classification``).
CLEARANCES = (N_("Unclassified"), N_("Restricted"), N_("Confidential"), N_("Secret"))


def _admin_page_caller(
    request: Request, caller: PageCaller, session: DbSession, *, changes: bool
) -> Caller:
    with transaction(session):
        gate.require_admin(
            session=session,
            actor=caller.actor,
            operation=operation_of(request),
            context=caller.context,
            changes=changes,
        )
    return caller


def get_admin_page_caller(request: Request, caller: PageCaller, session: DbSession) -> Caller:
    """An administrator; one the ransomware guard froze may only look (GET)."""
    return _admin_page_caller(request, caller, session, changes=request.method not in SAFE_METHODS)


def get_admin_unfreeze_caller(request: Request, caller: PageCaller, session: DbSession) -> Caller:
    """An administrator, frozen or not: for the unfreeze form only, whose service judges the
    freeze itself (``access.policy.decide_unfreeze``: never one's own, never while frozen) and
    says which of the two it was."""
    return _admin_page_caller(request, caller, session, changes=False)


AdminPageCaller = Annotated[Caller, Depends(get_admin_page_caller)]
AdminUnfreezeCaller = Annotated[Caller, Depends(get_admin_unfreeze_caller)]


def confirmed(confirm: str) -> None:
    """A form's confirmation checkbox (``confirm=yes``) was ticked, or ``not_confirmed``."""
    if confirm != "yes":
        raise ValidationFailed("the action was not confirmed", code="not_confirmed")


def form_action(
    session: Session,
    action: Callable[[], object],
    *,
    done: str,
    refused: Callable[[PolarisError], Response],
    confirm: str | None = None,
    then: Callable[[], object] | None = None,
) -> Response:
    """What every administration form does once FastAPI has read its fields (and
    ``web.pages.check_form_csrf`` its token): check the confirmation checkbox when the form has
    one (``confirm``), run ``action`` in one transaction, then ``then`` (after the commit) and
    redirect to ``done`` (303, its ``?done=`` naming the notice to show); a refusal
    (:class:`PolarisError`, the checkbox's included) goes to ``refused``, which renders the page
    again with the error and what was typed."""
    try:
        if confirm is not None:
            confirmed(confirm)
        with transaction(session):
            action()
    except PolarisError as error:
        return refused(error)
    if then is not None:
        then()
    return RedirectResponse(done, status_code=303)


@dataclass(frozen=True)
class Refusal:
    """A form refused: which form (``form``, to show the reason beside it), the untranslated
    reason and its values, the HTTP status, and what was typed."""

    form: str
    text: str
    status: int
    values: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)


def refusal(form: str, error: PolarisError, values: dict[str, str]) -> Refusal:
    """The :class:`Refusal` for ``error``: a problem the service explained (``problem``: a
    catalogue text and values), else the text for its code."""
    problem = getattr(error, "problem", None)
    if problem is not None:
        return Refusal(form, problem.text, error.status, values, dict(problem.values))
    return Refusal(form, message_for(error), error.status, values)


def message_for(error: PolarisError) -> str:
    """The untranslated text for ``error``'s code (the page translates it)."""
    return ADMIN_ERRORS.get(error.code) or error_message(error.code)


def admin_page(
    request: Request,
    caller: Caller,
    template: str,
    *,
    section: str,
    status_code: int = 200,
    no_store: bool = False,
    **context: Any,
) -> Response:
    """Render an administration page in the signed-in frame; ``section`` marks the current tab.

    ``no_store`` for a page that shows a secret once (a first password): no copy in any cache.
    """
    token, _ = form_csrf(request)
    context.setdefault("notice", None)
    context.setdefault("error", None)
    response = render(
        request,
        template,
        status_code=status_code,
        csrf=token,
        user=caller.user,
        section=section,
        unit_kinds=UNIT_KINDS,
        clearances=CLEARANCES,
        **context,
    )
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response
