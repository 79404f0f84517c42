"""Running ``audit verify`` and ``storage verify`` from the status page, as background jobs.

Both re-read everything (every audit record; every key, chunk and manifest of the blob store),
which takes minutes to hours on a large instance, so they run as jobs with progress. Each reads
from a read-only snapshot (``Instance.read_sessions``: no lock held against writers), calls the
same function as ``polaris audit verify`` / ``polaris storage verify``, and ends by appending its
outcome to the audit log (``audit.verify`` / ``storage.verify``) in the requester's name: the log
itself says who checked what, when, and what was found. The last job of each kind is what the
status page shows. Runs of ``polaris audit verify`` / ``storage verify`` are recorded the same
way (:func:`record_cli_run`, object id 0), so that ``polaris doctor`` can say when the data was
last checked, however it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from polaris import jobs
from polaris.admin._sealed import context_from_payload, context_to_payload
from polaris.admin.stored_content import DatabaseReferences
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.storage.verify import VerifyProgress, verify_store

Check = Literal["audit", "storage"]
JOB_KINDS: dict[Check, str] = {"audit": "admin.audit_verify", "storage": "admin.storage_verify"}
SUBJECTS: dict[Check, tuple[str, int]] = {"audit": ("audit_log", 0), "storage": ("blob_store", 0)}
#: A verify only reads; a second try covers a worker restarted in the middle.
MAX_ATTEMPTS = 2
#: Findings kept in a job's result for the page (the report may hold up to a thousand).
MAX_KEPT_FINDINGS = 100


@dataclass(frozen=True)
class CheckView:
    """The newest run of one check: its job (status, progress, result) and who asked for it."""

    job: jobs.Job
    requested_by: str | None


def request_check(
    *, session: Session, check: Check, user_id: int, context: AuditContext
) -> jobs.Job:
    """Queue a run of ``check``, unless one is queued or running already (that one is returned)."""
    newest = _newest_job(session, check)
    if newest is not None and newest.status in (jobs.JobStatus.QUEUED, jobs.JobStatus.RUNNING):
        return newest
    return jobs.enqueue(
        session,
        kind=JOB_KINDS[check],
        payload={"context": context_to_payload(context)},
        subject=SUBJECTS[check],
        created_by=user_id,
        max_attempts=MAX_ATTEMPTS,
    )


def last_check(*, session: Session, check: Check) -> CheckView | None:
    job = _newest_job(session, check)
    if job is None:
        return None
    payload: dict[str, Any] = dict(job.payload)
    return CheckView(job=job, requested_by=(payload.get("context") or {}).get("actor_name"))


def _newest_job(session: Session, check: Check) -> jobs.Job | None:
    found = [
        j for j in jobs.jobs_for_subject(session, *SUBJECTS[check]) if j.kind == JOB_KINDS[check]
    ]
    return found[-1] if found else None


def is_check_job(job: jobs.Job) -> bool:
    return job.kind in JOB_KINDS.values()


def run_audit_verify(ctx: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    instance = ctx.instance
    anchor_file = instance.settings.audit_anchor_file
    reader = instance.read_sessions()
    try:
        report = audit.verify(
            session=reader,
            public_keys=[instance.audit_signer.public_key],
            progress=ctx.progress,
            max_unsealed_age=instance.settings.audit_max_unsealed_age,
            anchor_file=anchor_file,
        )
    finally:
        reader.close()
    problems = len(report.findings) + report.findings_omitted
    result = {
        "ok": report.ok,
        "records": report.records,
        "checkpoints": report.checkpoints,
        "checkpoints_valid": report.checkpoints_valid,
        "last_valid_checkpoint_seq": report.last_valid_checkpoint_seq,
        "problems": problems,
        "findings": [
            {"where": f.seq, "kind": f.kind.value, "message": f.message}
            for f in report.findings[:MAX_KEPT_FINDINGS]
        ],
    }
    summary = {k: result[k] for k in ("ok", "records", "checkpoints_valid", "problems")}
    _record(ctx, payload, "audit.verify", "audit_log", summary)
    return result


def run_storage_verify(ctx: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Cross-check the store against every reference in the database (``stored_content``)."""

    def progress(step: VerifyProgress) -> None:
        ctx.progress(step.done, step.total)

    instance = ctx.instance
    report = verify_store(
        instance.blobs,
        progress=progress,
        references=DatabaseReferences(instance.read_sessions),
        scratch_dir=instance.settings.data_dir,
    )
    result = {
        "ok": report.ok,
        "objects": report.total,
        "checked": report.checked,
        "problems": len(report.findings) + report.findings_omitted,
        "references": report.references,
        "broken_files": report.broken_references,
        "orphan_chunks": report.unreferenced_chunk_count,
        "unreferenced_manifests": report.unreferenced_manifest_count,
        "unverifiable": len(report.unverifiable),
        "findings": [
            {
                "where": f.object_name,
                "message": f.reason if f.breaks is None else f"{f.reason}; breaks {f.breaks}",
            }
            for f in report.findings[:MAX_KEPT_FINDINGS]
        ],
    }
    keys = ("ok", "checked", "problems", "broken_files", "orphan_chunks", "unreferenced_manifests")
    _record(ctx, payload, "storage.verify", "blob_store", {k: result[k] for k in keys})
    return result


def _record(
    ctx: jobs.JobContext, payload: dict[str, Any], action: str, object_type: str, detail: Any
) -> None:
    with ctx.session() as session:
        audit.append(
            session=session,
            context=context_from_payload(payload["context"]),
            action=action,
            object_type=object_type,
            object_id=ctx.job_id,
            reason=None if detail["ok"] else "problems_found",
            detail=detail,
        )


def record_cli_run(
    *, session: Session, context: AuditContext, check: Check, detail: dict[str, Any]
) -> None:
    """A command-line run of ``audit verify`` / ``storage verify`` and what it found."""
    action = "audit.verify" if check == "audit" else "storage.verify"
    object_type, _ = SUBJECTS[check]
    audit.append(
        session=session,
        context=context,
        action=action,
        object_type=object_type,
        object_id=0,
        reason=None if detail["ok"] else "problems_found",
        detail=detail,
    )
