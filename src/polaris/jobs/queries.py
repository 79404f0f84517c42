"""Reading the queue, for the pages and operators: a job, the jobs of a subject (a document's
processing status), and how the queue stands."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.errors import NotFound
from polaris.jobs import repo
from polaris.jobs.models import Job


def get_job(session: Session, job_id: int) -> Job:
    job = repo.by_id(session, job_id)
    if job is None:
        raise NotFound("no such job", code="job_not_found")
    return job


def jobs_for_subject(session: Session, subject_type: str, subject_id: int) -> list[Job]:
    return list(repo.for_subject(session, subject_type, subject_id))


def jobs_for_subjects(
    session: Session, subject_type: str, subject_ids: list[int]
) -> dict[int, list[Job]]:
    """The jobs of many subjects at once, by subject id."""
    found: dict[int, list[Job]] = {}
    for job in repo.for_subjects(session, subject_type, subject_ids):
        assert job.subject_id is not None
        found.setdefault(job.subject_id, []).append(job)
    return found


@dataclass(frozen=True)
class QueueSummary:
    """How the queue stands, for operators: jobs by status, what runs, what failed last."""

    counts: dict[str, int]
    running: list[Job]
    failures: list[Job]


def queue_summary(session: Session, *, limit: int = 20) -> QueueSummary:
    return QueueSummary(
        counts=repo.count_by_status(session),
        running=list(repo.running(session, limit=limit)),
        failures=list(repo.latest_failures(session, limit=limit)),
    )
