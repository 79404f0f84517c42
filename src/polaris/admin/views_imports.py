"""CSV import of users: upload, every row error at once, then a background job with progress.

The job page shows the job's state as it is when loaded (so it works without JavaScript: reload
to see how far it got); ``admin-job.js`` polls ``/admin/jobs/{id}/status`` and moves the bar.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response

from polaris import jobs
from polaris.admin import imports, verification
from polaris.admin._pages import AdminPageCaller, admin_page, message_for
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.errors import NotFound, PolarisError
from polaris.identity.csvrows import ImportRejected
from polaris.identity.users import USER_CSV_COLUMNS, USER_CSV_OPTIONAL
from polaris.web.messages import N_
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)

#: The largest file read (the app's request body limit usually refuses larger ones first).
MAX_IMPORT_BYTES = 32 * 1024 * 1024
FILE_TOO_LARGE = N_("The file is too large.")


def _import_page(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    *,
    status_code: int = 200,
    rejected: ImportRejected | None = None,
    filename: str | None = None,
    error: str | None = None,
) -> Response:
    with transaction(session):
        recent = imports.recent_imports(session=session)
    return admin_page(
        request,
        caller,
        "admin/import.html",
        section="import",
        status_code=status_code,
        recent=recent,
        rejected=rejected,
        filename=filename,
        columns=USER_CSV_COLUMNS,
        optional_columns=USER_CSV_OPTIONAL,
        error=error,
    )


@router.get("/admin/users/import")
def import_form(request: Request, caller: AdminPageCaller, session: DbSession) -> Response:
    return _import_page(request, caller, session)


@router.post("/admin/users/import")
def upload(
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
    file: UploadFile = File(...),
) -> Response:
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _import_page(request, caller, session, status_code=413, error=FILE_TOO_LARGE)
    try:
        with transaction(session):
            job = imports.start_import(
                session=session,
                instance=instance,
                data=data,
                user_id=caller.user.id,
                context=caller.context,
            )
            job_id = job.id
    except ImportRejected as rejected:
        return _import_page(
            request,
            caller,
            session,
            status_code=422,
            rejected=rejected,
            filename=file.filename,
            error=message_for(rejected),
        )
    return RedirectResponse(f"/admin/users/import/{job_id}", status_code=303)


@router.get("/admin/users/import/{job_id}")
def import_job(
    job_id: Id, request: Request, caller: AdminPageCaller, session: DbSession
) -> Response:
    with transaction(session):
        view = imports.get_import(session=session, job_id=job_id)
    return admin_page(
        request,
        caller,
        "admin/import_job.html",
        section="import",
        view=view,
        job=view.job,
        mine=view.job.created_by == caller.user.id,
    )


@router.post("/admin/users/import/{job_id}/passwords")
def take_passwords(
    job_id: Id,
    request: Request,
    caller: AdminPageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    """The first passwords as a CSV download, once (the job keeps them no longer)."""
    try:
        with transaction(session):
            text = imports.take_passwords(
                session=session,
                instance=instance,
                job_id=job_id,
                user_id=caller.user.id,
                context=caller.context,
            )
    except PolarisError as error:
        if isinstance(error, NotFound):
            raise
        with transaction(session):
            view = imports.get_import(session=session, job_id=job_id)
        return admin_page(
            request,
            caller,
            "admin/import_job.html",
            section="import",
            status_code=error.status,
            view=view,
            job=view.job,
            mine=view.job.created_by == caller.user.id,
            error=message_for(error),
        )
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="first-passwords-{job_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/admin/jobs/{job_id}/status")
def job_status(job_id: Id, caller: AdminPageCaller, session: DbSession) -> Response:
    """How far an administration job is, for the progress bar's polling (JSON)."""
    with transaction(session):
        job = jobs.get_job(session, job_id)
        if job.kind != imports.IMPORT_JOB and not verification.is_check_job(job):
            raise NotFound("no such job", code="job_not_found")
        body = {
            "status": str(job.status),
            "done": job.progress_done,
            "total": job.progress_total,
            "finished": job.status in (jobs.JobStatus.DONE, jobs.JobStatus.FAILED),
        }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
