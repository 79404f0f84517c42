"""Holding a group commit's leader at its BEGIN, so that a test can queue units behind it and
know which ones share its batch (``tests/db`` and ``tests/audit``'s group-commit tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from polaris.db.engine import READ_ONLY_OPTION
from polaris.db.group_commit import GroupCommit

T = TypeVar("T")


@contextmanager
def first_write_held(engine: Engine) -> Iterator[tuple[threading.Event, list[int]]]:
    """The first write transaction waits at its BEGIN until ``release`` is set; ``begun`` counts
    write transactions (what takes SQLite's writer lock)."""
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
    pool: ThreadPoolExecutor,
    group: GroupCommit,
    units: list[Callable[[Session], T]],
    begun: list[int],
) -> list[Future[T]]:
    """The first unit leads and waits at its BEGIN; then the others queue behind it."""
    leader = pool.submit(group.run, units[0])
    wait_until(lambda: len(begun) == 1)
    followers = [pool.submit(group.run, unit) for unit in units[1:]]
    wait_until(lambda: group.waiting() == len(followers))
    return [leader, *followers]


def run_as_one_batch(
    engine: Engine, group: GroupCommit, units: list[Callable[[Session], T]]
) -> tuple[list[Future[T]], list[int]]:
    """Queue ``units`` behind a held leader, release it, and wait for every one: their futures,
    all done, and the write transactions begun meanwhile."""
    with first_write_held(engine) as (release, begun), ThreadPoolExecutor(len(units)) as pool:
        futures = queue_behind_leader(pool, group, units, begun)
        release.set()
    return futures, begun
