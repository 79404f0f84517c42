"""The status page: the last ``audit verify`` and ``storage verify`` runs, and running them now;
the job queue, the change stream with each consumer's position (``polaris events status``),
the files the malware scan quarantined or holds (``drive.scanning``), and the accounts the
ransomware guard froze, with its evidence (buttons in ``views_guard``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from polaris import events, jobs
from polaris.admin import verification, views_guard
from polaris.admin._pages import AdminPageCaller, admin_page
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.drive import scanning
from polaris.resilience import service as guard

router = APIRouter(include_in_schema=False)


@router.get("/admin/status")
def status_page(request: Request, caller: AdminPageCaller, session: DbSession) -> Response:
    with transaction(session):
        checks = {
            check: verification.last_check(session=session, check=check)
            for check in verification.JOB_KINDS
        }
        queue = jobs.queue_summary(session)
        stream = events.stream_status(session)
        held = scanning.held_content(session)
        frozen = guard.frozen_accounts(session)
    running = [
        view.job.id
        for view in checks.values()
        if view is not None and view.job.status in (jobs.JobStatus.QUEUED, jobs.JobStatus.RUNNING)
    ]
    return admin_page(
        request,
        caller,
        "admin/status.html",
        section="status",
        checks=checks,
        running=running,
        queue=queue,
        stream=stream,
        held=held,
        frozen=frozen,
        restore_since=[_default_since(account) for account in frozen],
        restored=views_guard.restore_result(request),
    )


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
