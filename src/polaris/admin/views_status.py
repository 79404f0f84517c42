"""The status page: the last ``audit verify`` and ``storage verify`` runs, and running them now;
the incident switch (buttons in ``views_incident``); the job queue, the change stream with each
consumer's position (``polaris events status``), the files the malware scan quarantined or holds
(``drive.scanning``; release and delete in ``views_scan``), and the accounts the ransomware guard
froze, with its evidence (buttons in ``views_guard``).

The forms on it that fail with a clear error (a missing reason, an unticked confirmation) answer
with the page again (:func:`render_status`), the error on top and what was typed kept."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from polaris import events, jobs
from polaris.admin import verification, views_guard
from polaris.admin._pages import AdminPageCaller, admin_page
from polaris.db.uow import transaction
from polaris.deps import Caller, DbSession
from polaris.drive import scanning
from polaris.incident import service as incident
from polaris.resilience import service as guard
from polaris.web.messages import N_

router = APIRouter(include_in_schema=False)

#: Notices after an action, by the ``done`` query parameter it redirects with.
DONE_NOTICES = {
    "incident_on": N_(
        "The incident switch is on: the instance is read-only until an administrator turns it off."
    ),
    "incident_off": N_("The incident switch is off: writes are accepted again."),
    "released": N_("The file is released: it can be opened and shared again."),
    "deleted": N_("The content is deleted for good from every file that held it."),
}


@router.get("/admin/status")
def status_page(
    request: Request, caller: AdminPageCaller, session: DbSession, done: str = ""
) -> Response:
    return render_status(request, caller, session, notice=DONE_NOTICES.get(done))


def render_status(
    request: Request,
    caller: Caller,
    session: Session,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:
    """The page; ``error`` (untranslated) and ``values`` (what a failed form had) when a form on
    it was refused."""
    with transaction(session):
        context = _gather(session)
    return admin_page(
        request,
        caller,
        "admin/status.html",
        section="status",
        status_code=status_code,
        notice=notice,
        error=error,
        values=values or {},
        restored=views_guard.restore_result(request),
        **context,
    )


def _gather(session: Session) -> dict[str, Any]:
    checks = {
        check: verification.last_check(session=session, check=check)
        for check in verification.JOB_KINDS
    }
    frozen = guard.frozen_accounts(session)
    running = [
        view.job.id
        for view in checks.values()
        if view is not None and view.job.status in (jobs.JobStatus.QUEUED, jobs.JobStatus.RUNNING)
    ]
    return {
        "checks": checks,
        "running": running,
        "incident_state": incident.current(session=session),
        "queue": jobs.queue_summary(session),
        "stream": events.stream_status(session),
        "held": scanning.held_content(session),
        "frozen": frozen,
        "restore_since": [_default_since(account) for account in frozen],
    }


def _default_since(account: guard.Frozen) -> str:
    """A starting point for the restore form: five minutes before the first evidence kept."""
    times = [str(item.get("at", "")) for item in account.evidence if item.get("at")]
    first = min((dt.datetime.fromisoformat(t) for t in times), default=account.frozen_at)
    return (first - dt.timedelta(minutes=5)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


@router.post("/admin/status/{check}/run")
def run_check(
    check: Literal["audit", "storage"], caller: AdminPageCaller, session: DbSession
) -> Response:
    with transaction(session):
        verification.request_check(
            session=session, check=check, user_id=caller.user.id, context=caller.context
        )
    return RedirectResponse(f"/admin/status#{check}", status_code=303)
