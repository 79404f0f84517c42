"""The job queue's SQL."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from polaris.jobs.models import Job, JobStatus


def by_key(session: Session, key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.key == key)).first()


def by_id(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def for_subject(session: Session, subject_type: str, subject_id: int) -> Sequence[Job]:
    return session.scalars(
        select(Job)
        .where(Job.subject_type == subject_type, Job.subject_id == subject_id)
        .order_by(Job.id)
    ).all()


def for_subjects(session: Session, subject_type: str, subject_ids: Sequence[int]) -> Sequence[Job]:
    found: list[Job] = []
    for start in range(0, len(subject_ids), 500):  # bounded IN lists
        batch = subject_ids[start : start + 500]
        found.extend(
            session.scalars(
                select(Job)
                .where(Job.subject_type == subject_type, Job.subject_id.in_(batch))
                .order_by(Job.id)
            ).all()
        )
    return found


def _due(now: dt.datetime) -> Any:
    """A job a worker may take: queued and due, or running with its lease run out."""
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.lease_until < now),
    )


def any_due(session: Session, *, kinds: Sequence[str], now: dt.datetime) -> bool:
    """Whether :func:`claim_next` would find a job, read without claiming (a read-only
    transaction: on SQLite it takes no writer lock)."""
    due = _due(now)
    return session.scalar(select(Job.id).where(due, Job.kind.in_(kinds)).limit(1)) is not None


def claim_next(
    session: Session,
    *,
    kinds: Sequence[str],
    now: dt.datetime,
    lease_until: dt.datetime,
    worker: str,
) -> Job | None:
    """Take the oldest due job of ``kinds``: queued and due, or running with its lease run out.

    ``SKIP LOCKED`` lets workers on PostgreSQL claim side by side without waiting on each other;
    SQLite ignores it, its transactions being serial anyway.
    """
    due = _due(now)
    job = session.scalars(
        select(Job)
        .where(due, Job.kind.in_(kinds))
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if job is None:
        return None
    job.status = JobStatus.RUNNING
    job.key = None  # from now on the same key asks for a new job: this one may miss the change
    job.attempts += 1
    job.lease_until = lease_until
    job.worker = worker
    job.started_at = now
    session.flush()
    return job


def claim_more(
    session: Session,
    *,
    kind: str,
    now: dt.datetime,
    lease_until: dt.datetime,
    worker: str,
    limit: int,
) -> Sequence[Job]:
    """Take up to ``limit`` more due jobs of one ``kind``, oldest first, as :func:`claim_next`
    does one: for a batch handler, in the transaction of that first claim."""
    if limit <= 0:
        return []
    due = _due(now)
    found = session.scalars(
        select(Job)
        .where(due, Job.kind == kind)
        .order_by(Job.run_after, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for job in found:
        job.status = JobStatus.RUNNING
        job.key = None
        job.attempts += 1
        job.lease_until = lease_until
        job.worker = worker
        job.started_at = now
    session.flush()
    return found


def update_claimed(
    session: Session, *, job_id: int, worker: str, attempt: int, **values: Any
) -> bool:
    """Change a job only while this worker's claim (this attempt) still holds it."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.worker == worker,
            Job.attempts == attempt,
            Job.status == JobStatus.RUNNING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def update_claimed_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`update_claimed` for many jobs: each row names ``job_id``, ``worker``, ``attempt``
    and the values to set. Rows setting the same columns go as one ``executemany`` of one
    prebuilt statement (a batch's outcomes were a statement built and compiled a job)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        columns = tuple(sorted(k for k in row if k not in _CLAIM_KEYS))
        groups.setdefault(columns, []).append({f"v_{k}": v for k, v in row.items()})
    connection = session.connection()
    for columns, params in groups.items():
        connection.execute(_claimed_update(columns), params)


_CLAIM_KEYS = frozenset({"job_id", "worker", "attempt"})


@functools.cache
def _claimed_update(columns: tuple[str, ...]) -> Any:
    """``UPDATE job SET <columns> WHERE`` the claim still holds, with bind parameters
    ``v_<name>`` (a bind parameter may not share a column's name in an ``UPDATE``)."""
    table = cast(Table, Job.__table__)
    return (
        update(table)
        .where(
            table.c.id == bindparam("v_job_id"),
            table.c.worker == bindparam("v_worker"),
            table.c.attempts == bindparam("v_attempt"),
            table.c.status == JobStatus.RUNNING,
        )
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(status): int(count) for status, count in rows}


def latest_failures(session: Session, *, limit: int) -> Sequence[Job]:
    return session.scalars(
        select(Job).where(Job.status == JobStatus.FAILED).order_by(Job.id.desc()).limit(limit)
    ).all()


def running(session: Session, *, limit: int) -> Sequence[Job]:
    return session.scalars(
        select(Job).where(Job.status == JobStatus.RUNNING).order_by(Job.started_at).limit(limit)
    ).all()


#: Rows in one multi-row INSERT: well under SQLite's 32,766 bound parameters (11 a row).
_ROWS_A_STATEMENT = 500


def insert_new_keys(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert keyed job rows (each with the same keys), skipping keys already taken; how many
    went in. One prebuilt statement, executed for all rows at once: SQLAlchemy sends them as
    multi-row ``INSERT``s of up to :data:`_ROWS_A_STATEMENT` ("insertmanyvalues"). A statement
    made with ``.values(rows)`` was compiled afresh at every call (a consumer's pass after each
    upload or message: 2 ms of its CPU under a profiler)."""
    if not rows:
        return 0
    statement = _keyed_insert(session.get_bind().dialect.name)
    return len(session.execute(statement, rows).all())


@functools.cache
def _keyed_insert(dialect: str) -> Any:
    """``INSERT INTO job … ON CONFLICT (key) DO NOTHING RETURNING id`` for ``dialect``."""
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    table = cast(Table, Job.__table__)
    return (
        insert_(table)
        .on_conflict_do_nothing(index_elements=[table.c.key])
        .returning(table.c.id)
        .execution_options(insertmanyvalues_page_size=_ROWS_A_STATEMENT)
    )
