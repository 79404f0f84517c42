"""The ransomware guard's buttons on the status page: restore what a frozen account changed since
a time, and unfreeze it. Administrators only (``AdminPageCaller``: ``access.gate``), each asked
to confirm with a checkbox, each audited by ``resilience.service``. No administrator may unfreeze
their own account (``access.policy.decide_unfreeze``)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.admin._pages import AdminPageCaller, AdminUnfreezeCaller, confirmed
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.errors import ValidationFailed
from polaris.resilience import service as guard

router = APIRouter(include_in_schema=False)


def parse_since(text: str) -> dt.datetime:
    """A time from the form (``datetime-local``, read as UTC, or ISO 8601 with an offset)."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed("the time is not valid") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@router.post("/admin/guard/{username}/restore")
def restore(
    username: str,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
    since: str = Form(""),
    confirm: str = Form(""),
) -> Response:
    confirmed(confirm)
    when = parse_since(since)
    with transaction(session):
        report = guard.restore_since(
            session=session,
            context=caller.context,
            blobs=instance.blobs,
            username=username,
            since=when,
        )
    query = urlencode(
        {
            "restored": report.restored,
            "unchanged": report.unchanged,
            "failed": len(report.failed) + len(report.places.failed),
            "user": username,
        }
    )
    return RedirectResponse(f"/admin/status?{query}#guard", status_code=303)


@router.post("/admin/guard/{username}/unfreeze")
def unfreeze(
    username: str, caller: AdminUnfreezeCaller, session: DbSession, confirm: str = Form("")
) -> Response:
    confirmed(confirm)
    with transaction(session):
        guard.unfreeze(
            session=session, actor=caller.actor, context=caller.context, username=username
        )
    return RedirectResponse("/admin/status#guard", status_code=303)


def restore_result(request: Request) -> dict[str, str] | None:
    """The counts a restore redirected with, for the page to show (None when there are none)."""
    keys = ("restored", "unchanged", "failed", "user")
    found = {key: request.query_params.get(key, "") for key in keys}
    if not all(found[key].isdigit() for key in keys[:3]):
        return None
    return found
