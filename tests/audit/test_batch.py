"""Group commit of stand-alone records (``audit.batch``): committed on return, one transaction
for the records that arrive together, a refused record failing only its own caller."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit.batch import AuditBatch
from polaris.audit.models import AuditRecord
from polaris.db.engine import READ_ONLY_OPTION
from tests.audit import factories as f

THREADS = 6


def records(factory: sessionmaker[Session], action: str) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
            )
            or 0
        )


@contextmanager
def first_write_held(engine: Engine) -> Iterator[tuple[threading.Event, list[int]]]:
    """The first write transaction waits at its BEGIN until ``release`` is set; ``begun`` counts
    write transactions. Lets a test queue records behind a leader, deterministically."""
    release = threading.Event()
    begun: list[int] = []

    def on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            return
        begun.append(1)
        if len(begun) == 1:
            assert release.wait(timeout=30)

    event.listen(engine, "begin", on_begin)
    try:
        yield release, begun
    finally:
        event.remove(engine, "begin", on_begin)


def wait_until(condition: Callable[[], bool]) -> None:
    """Wait for a state (never asserts anything about time)."""
    pause = threading.Event()
    while not condition():
        pause.wait(0.001)


def queue_behind_leader(
    pool: ThreadPoolExecutor, batch: AuditBatch, calls: list[dict[str, Any]], begun: list[int]
) -> list[Future[None]]:
    """The first call leads and waits at its BEGIN; then the others queue behind it."""
    leader = pool.submit(functools.partial(batch.append, **calls[0]))
    wait_until(lambda: len(begun) == 1)
    followers = [pool.submit(functools.partial(batch.append, **c)) for c in calls[1:]]
    wait_until(lambda: batch.waiting() == len(followers))
    return [leader, *followers]


def test_each_append_is_committed_on_return(committing: sessionmaker[Session]) -> None:
    batch = AuditBatch(committing)
    seen: list[int] = []

    def read(number: int) -> None:
        batch.append(context=f.user_context(number), action="file.read", object_id=number)
        seen.append(records(committing, "file.read"))  # visible to a fresh session already

    with ThreadPoolExecutor(THREADS) as pool:
        for result in [pool.submit(read, n) for n in range(THREADS * 5)]:
            result.result()
    assert records(committing, "file.read") == THREADS * 5
    assert min(seen) >= 1


def test_records_that_arrive_together_share_one_transaction(
    committing: sessionmaker[Session], engine: Engine
) -> None:
    batch = AuditBatch(committing)
    calls = [
        {"context": f.user_context(n), "action": "file.read", "object_id": n}
        for n in range(THREADS)
    ]
    with first_write_held(engine) as (release, begun), ThreadPoolExecutor(THREADS) as pool:
        futures = queue_behind_leader(pool, batch, calls, begun)
        release.set()
        for future in futures:
            future.result()
    assert records(committing, "file.read") == THREADS
    assert len(begun) == 2  # the leader's own record, then every follower's at once


def test_a_refused_record_fails_only_its_own_caller(
    committing: sessionmaker[Session], engine: Engine
) -> None:
    batch = AuditBatch(committing)
    calls = [
        {"context": f.user_context(n), "action": "file.read", "object_id": n}
        for n in range(THREADS)
    ]
    calls[3]["decision"] = "maybe"  # refused by ``append``
    with first_write_held(engine) as (release, begun), ThreadPoolExecutor(THREADS) as pool:
        futures = queue_behind_leader(pool, batch, calls, begun)
        release.set()
        outcomes = [future.exception() for future in futures]
    assert isinstance(outcomes[3], ValueError)
    assert [o for n, o in enumerate(outcomes) if n != 3] == [None] * (THREADS - 1)
    assert records(committing, "file.read") == THREADS - 1
    assert batch.waiting() == 0


def test_an_error_reaches_a_lone_caller(committing: sessionmaker[Session]) -> None:
    batch = AuditBatch(committing)
    with pytest.raises(ValueError):
        batch.append(context=f.user_context(1), action="")
    batch.append(context=f.user_context(1), action="file.read")  # the batch goes on
    assert records(committing, "file.read") == 1
