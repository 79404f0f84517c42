"""The background queue: durable jobs recorded in the database, run by worker threads.

A job is a row written in the same transaction as the change that needs it (a new version needs
its thumbnail), so a crash can neither lose it nor run it for a change that was rolled back. Workers
claim due jobs with a lease; a worker that dies frees its job when the lease ends, and a failed job
is retried with exponential backoff. Handlers must therefore be idempotent.

On the embedded shape each server process runs worker threads; at scale ``polaris worker`` runs
them apart from the web nodes, against the same PostgreSQL (claims use ``SKIP LOCKED``).
"""

from polaris.jobs.models import Job, JobStatus
from polaris.jobs.queries import get_job, jobs_for_subject, jobs_for_subjects, queue_summary
from polaris.jobs.service import (
    BatchJob,
    BatchOutcome,
    JobContext,
    JobFailure,
    KeyedJob,
    PermanentError,
    batch_handler,
    enqueue,
    enqueue_keyed,
    handler,
    run_one,
    run_pending,
)
from polaris.jobs.worker import Worker

__all__ = [
    "BatchJob",
    "BatchOutcome",
    "Job",
    "JobContext",
    "JobFailure",
    "JobStatus",
    "KeyedJob",
    "PermanentError",
    "Worker",
    "batch_handler",
    "enqueue",
    "enqueue_keyed",
    "get_job",
    "handler",
    "jobs_for_subject",
    "jobs_for_subjects",
    "queue_summary",
    "run_one",
    "run_pending",
]
