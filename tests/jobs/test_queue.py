"""The job queue: durable, idempotent by key, retried with backoff, leases that outlive workers."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from polaris import jobs
from polaris.clock import utcnow
from polaris.db import make_engine
from polaris.db.uow import transaction
from polaris.instance import Instance
from polaris.jobs.models import Job
from polaris.jobs.service import BACKOFF_CAP, WAKE, backoff, run_one
from tests.conftest import fresh_engine
from tests.drive.conftest import make_instance

CALLS: list[tuple[str, dict[str, Any]]] = []
FAILURES_LEFT: dict[str, int] = {}
RAN = threading.Event()


@jobs.handler("test.echo")
def echo(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(("echo", payload))
    context.progress(1, 2)
    context.progress(2, 2)
    return {"echoed": payload["text"]}


@jobs.handler("test.flaky")
def flaky(context: jobs.JobContext, payload: dict[str, Any]) -> None:
    CALLS.append(("flaky", payload))
    name = str(payload["name"])
    if FAILURES_LEFT.get(name, 0) > 0:
        FAILURES_LEFT[name] -= 1
        raise OSError("the disk hiccuped")


@jobs.handler("test.broken")
def broken(context: jobs.JobContext, payload: dict[str, Any]) -> None:
    raise jobs.PermanentError("the file is corrupt")


@jobs.handler("test.signal")
def signal(context: jobs.JobContext, payload: dict[str, Any]) -> None:
    RAN.set()


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()
    FAILURES_LEFT.clear()
    RAN.clear()


def enqueue(instance: Instance, kind: str, payload: dict[str, Any], **options: Any) -> int:
    session = instance.sessions()
    with transaction(session):
        job = jobs.enqueue(session, kind=kind, payload=payload, **options)
        job_id = job.id
    session.close()
    return job_id


def load(instance: Instance, job_id: int) -> Job:
    session = instance.sessions()
    with transaction(session):
        job = jobs.get_job(session, job_id)
    session.close()
    return job


def change(instance: Instance, job_id: int, **values: Any) -> None:
    session = instance.sessions()
    with transaction(session):
        session.execute(update(Job).where(Job.id == job_id).values(**values))
    session.close()


def test_a_job_runs_once_with_its_payload_and_records_result_and_progress(
    instance: Instance,
) -> None:
    job_id = enqueue(instance, "test.echo", {"text": "चोरी"}, subject=("file_version", 7))
    assert load(instance, job_id).status == "queued"

    assert jobs.run_pending(instance) == 1

    job = load(instance, job_id)
    assert CALLS == [("echo", {"text": "चोरी"})]
    assert (job.status, job.result, job.attempts) == ("done", {"echoed": "चोरी"}, 1)
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert job.finished_at is not None and job.lease_until is None
    assert jobs.run_pending(instance) == 0
    session = instance.sessions()
    with transaction(session):
        assert [j.id for j in jobs.jobs_for_subject(session, "file_version", 7)] == [job_id]
    session.close()


def test_the_same_key_is_one_job_while_queued_and_a_new_one_once_claimed(
    instance: Instance,
) -> None:
    first = enqueue(instance, "test.echo", {"text": "a"}, key="echo:1")
    second = enqueue(instance, "test.echo", {"text": "b"}, key="echo:1")
    assert first == second
    jobs.run_pending(instance)
    assert CALLS == [("echo", {"text": "a"})]
    # Claimed (here: done) jobs may have missed a later change: the key asks for a new job.
    third = enqueue(instance, "test.echo", {"text": "c"}, key="echo:1")
    assert third != first
    jobs.run_pending(instance)
    assert CALLS[-1] == ("echo", {"text": "c"})


def test_keyed_jobs_enqueued_together_skip_queued_keys_and_repeats(instance: Instance) -> None:
    queued = enqueue(instance, "test.echo", {"text": "a"}, key="echo:batch:1")
    WAKE.clear()
    session = instance.sessions()
    with transaction(session):
        added = jobs.enqueue_keyed(
            session,
            "test.echo",
            [
                jobs.KeyedJob("echo:batch:1", {"text": "not again"}),
                jobs.KeyedJob("echo:batch:2", {"text": "b"}, subject=("file_version", 9)),
                jobs.KeyedJob("echo:batch:2", {"text": "b"}, subject=("file_version", 9)),
            ],
        )
        assert added == 1
        assert not WAKE.is_set()
    assert WAKE.is_set()
    with transaction(session):
        assert jobs.enqueue_keyed(session, "test.echo", []) == 0
        assert [j.payload for j in jobs.jobs_for_subject(session, "file_version", 9)] == [
            {"text": "b"}
        ]
    session.close()
    jobs.run_pending(instance)
    assert sorted(text["text"] for _, text in CALLS) == ["a", "b"]
    assert queued != 0


def test_keyed_jobs_past_one_statements_rows_count_only_the_new(instance: Instance) -> None:
    """More rows than one ``INSERT`` takes (``repo._ROWS_A_STATEMENT``), some keys queued."""
    for n in range(0, 1200, 100):
        enqueue(instance, "test.echo", {"text": str(n)}, key=f"echo:many:{n}")
    session = instance.sessions()
    with transaction(session):
        wanted = [jobs.KeyedJob(f"echo:many:{n}", {"text": str(n)}) for n in range(1200)]
        assert jobs.enqueue_keyed(session, "test.echo", wanted) == 1200 - 12
    with transaction(session):
        assert jobs.queue_summary(session).counts.get("queued") == 1200
    session.close()


def test_workers_are_woken_when_the_jobs_commit_not_when_a_keyed_savepoint_ends(
    instance: Instance,
) -> None:
    # A worker woken before the commit finds nothing and sleeps until its next poll (on another
    # node, through the Redis nudge published at the same moment, just the same).
    WAKE.clear()
    session = instance.sessions()
    with transaction(session):
        jobs.enqueue(session, kind="test.echo", payload={"text": "a"})
        jobs.enqueue(session, kind="test.echo", payload={"text": "b"}, key="echo:wake")
        assert not WAKE.is_set(), "woken when the keyed job's savepoint ended"
    assert WAKE.is_set()
    WAKE.clear()
    with transaction(session):  # a later transaction of the same session wakes them again
        jobs.enqueue(session, kind="test.echo", payload={"text": "c"}, key="echo:again")
        jobs.enqueue(session, kind="test.echo", payload={"text": "d"}, key="echo:more")
        assert not WAKE.is_set()
    assert WAKE.is_set()
    session.close()


def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(instance: Instance) -> None:
    session = instance.sessions()
    with pytest.raises(RuntimeError), transaction(session):
        jobs.enqueue(session, kind="test.echo", payload={"text": "never"})
        raise RuntimeError("the change that needed the job failed")
    session.close()
    assert jobs.run_pending(instance) == 0
    assert CALLS == []


def test_a_failure_is_retried_after_a_backoff_then_succeeds(instance: Instance) -> None:
    FAILURES_LEFT["disk"] = 1
    job_id = enqueue(instance, "test.flaky", {"name": "disk"})
    before = utcnow()

    assert jobs.run_pending(instance) == 1
    job = load(instance, job_id)
    assert job.status == "queued"
    assert job.attempts == 1
    assert job.error == "OSError: the disk hiccuped"
    assert job.run_after >= before + backoff(1)
    assert jobs.run_pending(instance) == 0  # not due yet

    change(instance, job_id, run_after=utcnow() - dt.timedelta(seconds=1))
    assert jobs.run_pending(instance) == 1
    job = load(instance, job_id)
    assert (job.status, job.attempts) == ("done", 2)
    assert len(CALLS) == 2


def test_a_job_that_keeps_failing_fails_after_its_last_attempt(instance: Instance) -> None:
    FAILURES_LEFT["always"] = 99
    job_id = enqueue(instance, "test.flaky", {"name": "always"}, max_attempts=3)
    for _ in range(3):
        change(instance, job_id, run_after=utcnow() - dt.timedelta(seconds=1))
        jobs.run_pending(instance)
    job = load(instance, job_id)
    assert (job.status, job.attempts) == ("failed", 3)
    assert job.error == "OSError: the disk hiccuped"
    change(instance, job_id, run_after=utcnow() - dt.timedelta(seconds=1))
    assert jobs.run_pending(instance) == 0


def test_a_permanent_error_fails_at_once_with_its_reason(instance: Instance) -> None:
    job_id = enqueue(instance, "test.broken", {})
    jobs.run_pending(instance)
    job = load(instance, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 1, "the file is corrupt")


def test_the_job_of_a_dead_worker_is_taken_over_when_its_lease_ends(instance: Instance) -> None:
    job_id = enqueue(instance, "test.echo", {"text": "orphan"})
    # A worker claimed it, then died: running, its lease not yet over.
    change(
        instance,
        job_id,
        status="running",
        attempts=1,
        worker="dead-host:1:1",
        lease_until=utcnow() + dt.timedelta(minutes=5),
    )
    assert jobs.run_pending(instance) == 0  # still leased

    change(instance, job_id, lease_until=utcnow() - dt.timedelta(seconds=1))
    assert jobs.run_pending(instance) == 1
    job = load(instance, job_id)
    assert (job.status, job.attempts) == ("done", 2)
    assert job.worker != "dead-host:1:1"


def test_a_worker_that_dies_on_the_last_attempt_fails_the_job(instance: Instance) -> None:
    job_id = enqueue(instance, "test.echo", {"text": "x"}, max_attempts=1)
    change(
        instance,
        job_id,
        status="running",
        attempts=1,
        worker="dead-host:1:1",
        lease_until=utcnow() - dt.timedelta(seconds=1),
    )
    assert run_one(instance)
    job = load(instance, job_id)
    assert job.status == "failed"
    assert job.error == "the worker running this job stopped"
    assert CALLS == []


def test_a_stale_worker_cannot_overwrite_the_job_after_it_was_taken_over(
    instance: Instance,
) -> None:
    from polaris.jobs import repo

    job_id = enqueue(instance, "test.echo", {"text": "x"})
    session = instance.sessions()
    with transaction(session):
        changed = repo.update_claimed(
            session, job_id=job_id, worker="someone-else", attempt=0, status="done"
        )
    session.close()
    assert changed is False
    assert load(instance, job_id).status == "queued"


def test_jobs_of_a_kind_without_handler_here_are_left_for_other_workers(
    instance: Instance,
) -> None:
    job_id = enqueue(instance, "test.elsewhere", {})
    assert jobs.run_pending(instance) == 0
    assert load(instance, job_id).status == "queued"


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(30) == BACKOFF_CAP


def test_queued_jobs_survive_a_restart_and_a_worker_thread_runs_them(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_instance(fresh_engine("sqlite", tmp_path), tmp_path / "a")
    job_id = enqueue(first, "test.signal", {})
    first.close()

    # A new process: a new engine over the same database file.
    second = make_instance(make_engine(f"sqlite:///{tmp_path / 'test.db'}"), tmp_path / "b")
    worker = jobs.Worker(second, threads=2)
    worker.start()
    try:
        assert RAN.wait(timeout=60), "the worker thread did not run the queued job"
    finally:
        worker.stop()
    assert load(second, job_id).status == "done"
    second.close()
