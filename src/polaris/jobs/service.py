"""Enqueue jobs, register their handlers, and run due jobs (see ``polaris.jobs``)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.db.uow import transaction, unit_of_work
from polaris.jobs import notify, repo
from polaris.jobs.gathering import Gathering
from polaris.jobs.models import Job, JobStatus

if TYPE_CHECKING:
    from polaris.instance import Instance

log = logging.getLogger("polaris.jobs")

Payload = dict[str, Any]
Result = dict[str, Any] | None
HandlerFunction = Callable[["JobContext", Payload], Result]


@dataclass(frozen=True)
class BatchJob:
    """One job of a batch, as its batch handler sees it."""

    job_id: int
    payload: Payload


@dataclass(frozen=True)
class JobFailure:
    """A batch handler's verdict on one job of its batch: it failed, for ``reason``; retried
    after the usual backoff unless ``permanent``."""

    reason: str
    permanent: bool = False


#: Each job's id to its result (done) or :class:`JobFailure`; a job left out failed.
BatchOutcome = dict[int, Result | JobFailure]
BatchHandlerFunction = Callable[["Instance", Sequence[BatchJob]], BatchOutcome]

DEFAULT_MAX_ATTEMPTS = 5
BACKOFF_BASE = dt.timedelta(seconds=10)
BACKOFF_CAP = dt.timedelta(hours=1)
#: Progress is written at most this often; the last step is always written.
PROGRESS_INTERVAL_SECONDS = 0.5

_HANDLERS: dict[str, HandlerFunction] = {}
_BATCH_HANDLERS: dict[str, tuple[BatchHandlerFunction, int]] = {}
#: Set when a job is committed in this process, so that idle workers here wake at once.
WAKE = threading.Event()
_WAKE_PENDING = "polaris.jobs.wake_pending"


class PermanentError(Exception):
    """A failure that retrying cannot mend (a corrupt file, an unsupported format)."""


def handler(kind: str) -> Callable[[HandlerFunction], HandlerFunction]:
    """Register the function that runs jobs of ``kind``. It must be idempotent."""

    def register(function: HandlerFunction) -> HandlerFunction:
        if (kind in _HANDLERS and _HANDLERS[kind] is not function) or kind in _BATCH_HANDLERS:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        _HANDLERS[kind] = function
        return function

    return register


def batch_handler(
    kind: str, *, size: int
) -> Callable[[BatchHandlerFunction], BatchHandlerFunction]:
    """Register the function that runs due jobs of ``kind`` together, up to ``size`` at a time.

    For work with a fixed cost a pass (a search index's commit): a worker that claims a job of
    ``kind`` claims up to ``size - 1`` more due ones in the same transaction, hands them to the
    handler at once and records every outcome in one transaction. The handler says per job
    whether it is done (its result) or failed (:class:`JobFailure`), so one bad job fails alone.
    If the handler raises, every job of the batch fails (and is retried) with that error. It
    must be idempotent, as every handler: a worker that dies after the work and before the
    outcomes are recorded leaves the whole batch to run again when the leases end.
    """
    if size < 1:
        raise ValueError("a batch holds at least one job")

    def register(function: BatchHandlerFunction) -> BatchHandlerFunction:
        known = _BATCH_HANDLERS.get(kind)
        if (known is not None and known[0] is not function) or kind in _HANDLERS:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        _BATCH_HANDLERS[kind] = (function, size)
        return function

    return register


def registered_kinds() -> list[str]:
    return sorted({*_HANDLERS, *_BATCH_HANDLERS})


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: Payload,
    key: str | None = None,
    subject: tuple[str, int] | None = None,
    created_by: int | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    run_after: dt.datetime | None = None,
) -> Job:
    """Add a job in the caller's transaction; with the ``key`` of a job still queued (not yet
    claimed), return that job instead."""
    if key is not None:
        existing = repo.by_key(session, key)
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        key=key,
        payload=payload,
        subject_type=subject[0] if subject else None,
        subject_id=subject[1] if subject else None,
        status=JobStatus.QUEUED,
        max_attempts=max_attempts,
        run_after=run_after or utcnow(),
        created_by=created_by,
    )
    if key is None:
        session.add(job)
        session.flush()
    else:
        try:
            with session.begin_nested():  # only a keyed job can race another transaction
                session.add(job)
        except IntegrityError:
            raced = repo.by_key(session, key)  # another transaction enqueued it first
            if raced is None:
                raise
            return raced
    # Once per commit, however many jobs the transaction queues.
    session.info[_WAKE_PENDING] = True
    if not event.contains(session, "after_commit", _wake_workers):
        event.listen(session, "after_commit", _wake_workers)
    return job


@dataclass(frozen=True)
class KeyedJob:
    """One job for :func:`enqueue_keyed`: idempotent by ``key`` like :func:`enqueue`'s."""

    key: str
    payload: Payload
    subject: tuple[str, int] | None = None


def enqueue_keyed(session: Session, kind: str, wanted: Sequence[KeyedJob]) -> int:
    """Add many keyed jobs in the caller's transaction with one statement; a key already queued
    (or racing in from another transaction) is skipped, as :func:`enqueue` would return it.

    A change-stream consumer asks for a job per changed node: one ``INSERT … ON CONFLICT (key)
    DO NOTHING`` for the whole batch instead of a lookup, a savepoint and an insert per node.
    Returns how many were new.
    """
    if not wanted:
        return 0
    now = utcnow()
    rows = [
        {
            "kind": kind,
            "key": item.key,
            "payload": item.payload,
            "subject_type": item.subject[0] if item.subject else None,
            "subject_id": item.subject[1] if item.subject else None,
            "status": JobStatus.QUEUED,
            "attempts": 0,
            "max_attempts": DEFAULT_MAX_ATTEMPTS,
            "run_after": now,
            "progress_done": 0,
            "created_at": now,
        }
        for item in {item.key: item for item in wanted}.values()
    ]
    added = repo.insert_new_keys(session, rows)
    if added:
        session.info[_WAKE_PENDING] = True
        if not event.contains(session, "after_commit", _wake_workers):
            event.listen(session, "after_commit", _wake_workers)
    return added


def _wake_workers(session: Session) -> None:
    """Wake workers here and on other nodes once the transaction that queued jobs commits.

    SQLAlchemy also calls ``after_commit`` when a savepoint is released (a keyed enqueue makes
    one): the jobs are not visible to other connections yet, and a worker woken then finds
    nothing and sleeps until its next poll. So only the outermost commit counts.
    """
    if session.in_nested_transaction() or not session.info.pop(_WAKE_PENDING, False):
        return
    WAKE.set()
    notify.nudge_others()


def backoff(attempt: int) -> dt.timedelta:
    """10 s, 20 s, 40 s… after the 1st, 2nd, 3rd failure, at most an hour."""
    delay: dt.timedelta = BACKOFF_BASE * (2 ** max(attempt - 1, 0))
    return min(delay, BACKOFF_CAP)


@dataclass
class JobContext:
    """What a running handler gets: the instance, its job, and a way to report progress.

    On SQLite a process has one writer at a time, so call :meth:`progress` between transactions,
    never while one of the handler's own write transactions is open.
    """

    instance: Instance
    job_id: int
    attempt: int
    worker: str
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    _last_progress: float = field(default=0.0, repr=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work for the handler."""
        with unit_of_work(self.instance.sessions) as session:
            yield session

    def progress(self, done: int, total: int | None = None) -> None:
        """Record how far the job is (and renew its lease); written at most twice a second."""
        now = time.monotonic()
        last_step = total is not None and done >= total
        if not last_step and now - self._last_progress < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = now
        lease = dt.timedelta(seconds=self.instance.settings.jobs.lease_seconds)
        values: dict[str, Any] = {"progress_done": done, "lease_until": utcnow() + lease}
        if total is not None:
            values["progress_total"] = total
        with self.session() as session:
            repo.update_claimed(
                session, job_id=self.job_id, worker=self.worker, attempt=self.attempt, **values
            )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class _Gathering(Exception):
    """A batch claimed and then let go (rolled back) to gather company (``jobs.gathering``)."""


@dataclass(frozen=True)
class _Claim:
    """What one claim took: jobs of ``kind`` (one, or a batch for a batch handler; none when
    the claimed jobs were given up), each with its payload."""

    kind: str
    contexts: list[JobContext]
    payloads: dict[int, Payload]


def run_one(
    instance: Instance, *, worker: str | None = None, gathering: Gathering | None = None
) -> bool:
    """Claim and run one due job (with a batch handler, a batch of them); False when none is
    due. With ``gathering`` (the background workers), a batch too small and too young is let go
    to wait for company, and True is returned (something else may be due)."""
    worker = worker or worker_name()
    kinds = registered_kinds()
    if gathering is not None:
        resting = gathering.resting()
        kinds = [kind for kind in kinds if kind not in resting]
    if not kinds:
        return False
    try:
        claim = _claim(instance, kinds, worker, gathering)
    except _Gathering:
        return True
    if claim is None:
        return False
    if claim.kind in _BATCH_HANDLERS:
        if claim.contexts:
            _run_batch(instance, claim.kind, claim.contexts, claim.payloads)
        return True
    for context in claim.contexts:  # one, or none when it was given up
        _run(context, claim.kind, claim.payloads[context.job_id])
    return True


def _run(context: JobContext, kind: str, payload: Payload) -> None:
    """Run one claimed job and record its outcome."""
    try:
        result = _HANDLERS[kind](context, payload)
    except PermanentError as error:
        _finish(context, status=JobStatus.FAILED, error=str(error) or type(error).__name__)
    except Exception as error:  # a failing job must never stop its worker
        log.warning(
            "job %s (%s) attempt %s failed: %r", context.job_id, kind, context.attempt, error
        )
        _retry_or_fail(context, error)
    else:
        _finish(context, status=JobStatus.DONE, result=result, error=None)


def _claim(
    instance: Instance, kinds: list[str], worker: str, gathering: Gathering | None
) -> _Claim | None:
    """The next due job, or with a batch handler a batch of them, claimed in one transaction;
    None when none is due. Raises ``_Gathering`` (the claim rolled back) for a batch that
    ``gathering`` holds back."""
    # A look first, read-only: a worker is woken by every job queued in its process, and
    # most wake-ups under a stream of uploads or messages find only kinds that are gathering
    # (``gathering``) or nothing. A claim's write transaction for each of them held SQLite's
    # one writer lock about a tenth of a busy run.
    session = instance.sessions()
    try:
        with transaction(session, read_only=True):
            if not repo.any_due(session, kinds=kinds, now=utcnow()):
                return None
    finally:
        session.close()
    lease = dt.timedelta(seconds=instance.settings.jobs.lease_seconds)
    with unit_of_work(instance.sessions) as session:
        now = utcnow()
        job = repo.claim_next(session, kinds=kinds, now=now, lease_until=now + lease, worker=worker)
        if job is None:
            return None
        claimed = [job]
        if job.kind in _BATCH_HANDLERS:
            size = _BATCH_HANDLERS[job.kind][1]
            claimed += repo.claim_more(
                session,
                kind=job.kind,
                now=now,
                lease_until=now + lease,
                worker=worker,
                limit=size - 1,
            )
            if gathering is not None and gathering.holds(
                job.kind, queued_at=job.created_at, attempt=job.attempts, full=len(claimed) >= size
            ):
                raise _Gathering  # rolls the claim back: the jobs stay queued, keys and all
        return _Claim(
            kind=job.kind,
            contexts=[
                JobContext(instance, j.id, j.attempts, worker, j.max_attempts)
                for j in claimed
                if not _given_up(j, now)
            ],
            payloads={j.id: dict(j.payload) for j in claimed},
        )


def _given_up(job: Job, now: dt.datetime) -> bool:
    """Fail a job whose worker died on its last allowed attempt (in the claim's transaction)."""
    if job.attempts <= job.max_attempts:
        return False
    job.status = JobStatus.FAILED
    job.error = job.error or "the worker running this job stopped"
    job.finished_at = now
    return True


def _run_batch(
    instance: Instance, kind: str, batch: list[JobContext], payloads: dict[int, Payload]
) -> None:
    """Run a batch handler and record every job's outcome in one transaction."""
    function = _BATCH_HANDLERS[kind][0]
    outcomes: BatchOutcome
    try:
        outcomes = function(instance, [BatchJob(c.job_id, payloads[c.job_id]) for c in batch])
    except PermanentError as error:
        failure = JobFailure(str(error) or type(error).__name__, permanent=True)
        outcomes = dict.fromkeys(payloads, failure)
    except Exception as error:  # a failing batch must never stop its worker
        log.warning("batch of %s %s jobs failed: %r", len(batch), kind, error)
        outcomes = dict.fromkeys(payloads, JobFailure(f"{type(error).__name__}: {error}"))
    _record_batch(batch, outcomes)


def _record_batch(batch: list[JobContext], outcomes: BatchOutcome) -> None:
    now = utcnow()
    rows: list[dict[str, Any]] = []
    with batch[0].session() as session:
        for context in batch:
            values: dict[str, Any] = {"lease_until": None}
            outcome = outcomes.get(context.job_id, JobFailure("the batch handler left it out"))
            if not isinstance(outcome, JobFailure):
                values |= {"status": JobStatus.DONE, "result": outcome, "error": None}
            elif outcome.permanent or context.attempt >= context.max_attempts:
                values |= {"status": JobStatus.FAILED, "error": outcome.reason[:2000]}
            else:
                values |= {
                    "status": JobStatus.QUEUED,
                    "run_after": now + backoff(context.attempt),
                    "error": outcome.reason[:2000],
                }
            if values["status"] != JobStatus.QUEUED:
                values["finished_at"] = now
            rows.append(
                {"job_id": context.job_id, "worker": context.worker, "attempt": context.attempt}
                | values
            )
        repo.update_claimed_many(session, rows)


def _retry_or_fail(context: JobContext, error: Exception) -> None:
    message = f"{type(error).__name__}: {error}"[:2000]
    if context.attempt >= context.max_attempts:
        _finish(context, status=JobStatus.FAILED, error=message)
        return
    with context.session() as session:
        repo.update_claimed(
            session,
            job_id=context.job_id,
            worker=context.worker,
            attempt=context.attempt,
            status=JobStatus.QUEUED,
            run_after=utcnow() + backoff(context.attempt),
            lease_until=None,
            error=message,
        )


def _finish(context: JobContext, *, status: JobStatus, **values: Any) -> None:
    with context.session() as session:
        repo.update_claimed(
            session,
            job_id=context.job_id,
            worker=context.worker,
            attempt=context.attempt,
            status=status,
            lease_until=None,
            finished_at=utcnow(),
            **values,
        )


def run_pending(instance: Instance, *, limit: int | None = None) -> int:
    """Run due jobs in this thread until none is left (or ``limit``); how many ran."""
    count = 0
    while limit is None or count < limit:
        if not run_one(instance):
            break
        count += 1
    return count
