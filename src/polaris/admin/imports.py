"""User imports from CSV as background jobs, with every bad row named before anything is queued.

The steps, and why they are apart:

1. ``start_import`` (the request): ``identity.users.check_users_csv`` checks every row; a bad file
   raises ``ImportRejected`` listing every bad row, and nothing is queued. A good file is queued
   as a job, sealed (``polaris.admin._sealed``): the CSV may hold passwords.
2. ``run_import`` (a worker): checks again, hashes every password outside any transaction (the
   slow part, ~0.1 s a user with argon2id, reported as progress) and inserts every user in one
   transaction, all or none, audited as ``user.import`` in the administrator's name. The same
   transaction drops the CSV from the job and keeps the generated first passwords, sealed to this
   job, so that a retry after a crash finds the work done instead of doing it twice.
3. ``take_passwords`` (the administrator who started it, once): opens the sealed passwords, wipes
   them from the job and audits that they were handed out. Nobody can see them again.

Preconditions: only administrators reach ``start_import`` and ``take_passwords`` (the pages ask
``access.gate.require_admin``); ``run_import`` acts for the requester and checks that they still
are one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from polaris import jobs
from polaris.access.policy import decide_admin
from polaris.admin._sealed import context_from_payload, context_to_payload, seal, unseal
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.errors import Conflict, NotFound, PermissionDenied
from polaris.identity import directory, users
from polaris.identity.actors import actor_for
from polaris.identity.csvrows import ImportRejected
from polaris.instance import Instance

IMPORT_JOB = "admin.user_import"
#: Every import job is about "the user directory", so the import page can list recent ones.
SUBJECT = ("user_directory", 0)
#: An import is all or nothing and is checked again on each try; a few tries cover a restart.
MAX_ATTEMPTS = 3
#: At most this many row errors are kept in a job's result (the first, by row).
MAX_KEPT_ERRORS = 1000
CSV_PURPOSE = "user import csv"
PASSWORDS_PURPOSE = "user import passwords"


@dataclass(frozen=True)
class ImportView:
    """What a page shows of an import job; never the CSV or a password."""

    job: jobs.Job
    requested_by: str | None
    rows: int
    passwords_waiting: bool
    passwords_shown_at: str | None


def start_import(
    *, session: Session, instance: Instance, data: bytes, user_id: int, context: AuditContext
) -> jobs.Job:
    """Check ``data``; queue its import. Raises ``ImportRejected`` listing every bad row."""
    rows = users.check_users_csv(session=session, data=data)
    job = jobs.enqueue(
        session,
        kind=IMPORT_JOB,
        payload={
            "csv": seal(instance, CSV_PURPOSE, data, bound_to=IMPORT_JOB),
            "rows": len(rows),
            "context": context_to_payload(context),
        },
        subject=SUBJECT,
        created_by=user_id,
        max_attempts=MAX_ATTEMPTS,
    )
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="user.import_queued",
        object_type="job",
        object_id=job.id,
        detail={"rows": len(rows)},
    )
    return job


def get_import(*, session: Session, job_id: int) -> ImportView:
    job = jobs.get_job(session, job_id)
    if job.kind != IMPORT_JOB:
        raise NotFound("no such import", code="job_not_found")
    return _view(job)


def recent_imports(*, session: Session, limit: int = 10) -> list[ImportView]:
    found = jobs.jobs_for_subject(session, *SUBJECT)
    return [_view(job) for job in reversed(found[-limit:]) if job.kind == IMPORT_JOB]


def _view(job: jobs.Job) -> ImportView:
    payload: dict[str, Any] = dict(job.payload)
    context = payload.get("context") or {}
    return ImportView(
        job=job,
        requested_by=context.get("actor_name"),
        rows=int(payload.get("rows", 0)),
        passwords_waiting=bool(payload.get("passwords")),
        passwords_shown_at=payload.get("passwords_shown_at"),
    )


def run_import(ctx: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """The job (see the module's docstring). Idempotent: a finished import is not done again."""
    instance = ctx.instance
    if payload.get("csv") is None:
        return _imported(payload)  # done by an earlier try that stopped before reporting it
    context = context_from_payload(payload["context"])
    data = unseal(instance, CSV_PURPOSE, payload["csv"], bound_to=IMPORT_JOB)
    reader = instance.read_sessions()
    try:
        _require_admin(reader, context)
        rows = users.check_users_csv(session=reader, data=data)
    except ImportRejected as rejected:
        return _rejected(ctx, rejected)
    finally:
        reader.close()
    ctx.progress(0, len(rows))
    hashed = users.hash_import_rows(rows, passwords=instance.auth.passwords, progress=ctx.progress)
    try:
        with ctx.session() as session:
            created = users.insert_imported_users(session=session, rows=hashed, context=context)
            generated = [
                (c.user.username, c.initial_password) for c in created if c.initial_password
            ]
            job = jobs.get_job(session, ctx.job_id)
            job.payload = {
                **job.payload,
                "csv": None,
                "imported": len(created),
                "generated": len(generated),
                "passwords": _seal_passwords(instance, job.id, generated) if generated else None,
            }
    except ImportRejected as rejected:  # a username taken, a unit gone, since the check
        return _rejected(ctx, rejected)
    return _imported(job.payload)


def _require_admin(session: Session, context: AuditContext) -> None:
    """The requester must still be an enabled administrator when the import runs."""
    user = None
    if context.actor_id is not None:
        user = directory.get_user(session=session, user_id=int(context.actor_id))
    actor = None if user is None else actor_for(session=session, user=user, auth_factors="job")
    if actor is None or not decide_admin(actor).allowed:
        raise jobs.PermanentError("the administrator who started this import no longer is one")


def _imported(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "outcome": "imported",
        "created": int(payload.get("imported", 0)),
        "generated": int(payload.get("generated", 0)),
    }


def _rejected(ctx: jobs.JobContext, rejected: ImportRejected) -> dict[str, Any]:
    with ctx.session() as session:
        job = jobs.get_job(session, ctx.job_id)
        job.payload = {**job.payload, "csv": None}
    errors = rejected.errors[:MAX_KEPT_ERRORS]
    return {
        "outcome": "rejected",
        "errors": [{"row": e.row, "reason": e.reason, "values": dict(e.values)} for e in errors],
        "more_errors": len(rejected.errors) - len(errors),
    }


def _seal_passwords(instance: Instance, job_id: int, pairs: list[tuple[str, str]]) -> str:
    text = "".join(f"{username}\t{password}\n" for username, password in pairs)
    return seal(instance, PASSWORDS_PURPOSE, text.encode(), bound_to=f"job {job_id}")


def take_passwords(
    *, session: Session, instance: Instance, job_id: int, user_id: int, context: AuditContext
) -> str:
    """The generated first passwords as CSV (``username,password``), once, for the administrator
    who started the import; they are wiped from the job in this transaction, and it is audited.

    Raises ``PermissionDenied`` (``not_your_import``) for anyone else, ``Conflict``
    (``passwords_gone``) when they were taken already or there are none.
    """
    job = get_import(session=session, job_id=job_id).job
    if job.created_by != user_id:
        raise PermissionDenied("only the requester may take these", code="not_your_import")
    sealed = dict(job.payload).get("passwords")
    if not isinstance(sealed, str) or not sealed:
        raise Conflict("the passwords were taken already", code="passwords_gone")
    text = unseal(instance, PASSWORDS_PURPOSE, sealed, bound_to=f"job {job.id}").decode()
    pairs = [line.split("\t", 1) for line in text.splitlines()]
    job.payload = {**job.payload, "passwords": None, "passwords_shown_at": utcnow().isoformat()}
    audit.append(
        session=session,
        context=context,
        action="user.import_passwords_taken",
        object_type="job",
        object_id=job.id,
        detail={"count": len(pairs)},
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["username", "password"])
    writer.writerows(pairs)
    return out.getvalue()
