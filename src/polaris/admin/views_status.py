"""The status page: the last ``audit verify`` and ``storage verify`` runs, and running them now;
the job queue, the change stream with each consumer's position (``polaris events status``), and
the files the malware scan quarantined or holds (``drive.scanning``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from polaris import events, jobs
from polaris.admin import verification
from polaris.admin._pages import AdminPageCaller, admin_page
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.drive import scanning

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
    )


@router.post("/admin/status/{check}/run")
def run_check(
    check: Literal["audit", "storage"], caller: AdminPageCaller, session: DbSession
) -> Response:
    with transaction(session):
        verification.request_check(
            session=session, check=check, user_id=caller.user.id, context=caller.context
        )
    return RedirectResponse(f"/admin/status#{check}", status_code=303)
