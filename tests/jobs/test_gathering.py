"""Batched kinds gather company (``jobs.gathering``): the background workers hold a small, young
batch back so that what arrives meanwhile shares its pass, never longer than the wait, never a
full batch or a retried job; ``run_pending`` (no gathering) runs everything at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from polaris import jobs
from polaris.clock import utcnow
from polaris.instance import Instance
from polaris.jobs.gathering import Gathering
from polaris.jobs.service import run_one
from tests.jobs.test_queue import change, enqueue, load

KIND = "test.gathered"
SIZE = 3
PASSES: list[list[str]] = []


@jobs.batch_handler(KIND, size=SIZE)
def gathered(instance: Instance, batch: Sequence[jobs.BatchJob]) -> jobs.BatchOutcome:
    PASSES.append([str(job.payload["name"]) for job in batch])
    return {job.job_id: {"ok": True} for job in batch}


@pytest.fixture(autouse=True)
def _clear() -> None:
    PASSES.clear()


class Clock:
    """The gathering's clock, set by the test (the jobs' own times are the real ones)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def later(self, seconds: float) -> None:
        self.now = utcnow() + dt.timedelta(seconds=seconds)


def gathering(clock: Clock) -> Gathering:
    return Gathering(10.0, clock=clock)


def queue(instance: Instance, *names: str) -> list[int]:
    return [enqueue(instance, KIND, {"name": name}, key=f"{KIND}:{name}") for name in names]


def test_a_young_small_batch_waits_and_runs_with_what_came_meanwhile(instance: Instance) -> None:
    clock = Clock()
    held = gathering(clock)
    first = queue(instance, "a")[0]

    assert run_one(instance, gathering=held) is True  # let go: something else may be due
    assert PASSES == []
    job = load(instance, first)
    assert (job.status, job.attempts, job.key) == ("queued", 0, f"{KIND}:a")  # claim undone
    assert KIND in held.resting()
    assert run_one(instance, gathering=held) is False  # the kind rests: nothing else is due
    assert 0 < held.seconds_to_next(60.0) < 11.0  # until the first job has waited 10 s
    assert held.seconds_to_next(0.5) == 0.5

    queue(instance, "b")
    clock.later(11)  # the first job has waited its time
    assert held.resting() == set()
    assert run_one(instance, gathering=held) is True
    assert PASSES == [["a", "b"]]
    assert load(instance, first).status == "done"


def test_a_full_batch_runs_at_once(instance: Instance) -> None:
    held = gathering(Clock())
    queue(instance, "a", "b", "c")
    assert run_one(instance, gathering=held) is True
    assert PASSES == [["a", "b", "c"]]


def test_a_retried_job_is_not_held(instance: Instance) -> None:
    held = gathering(Clock())
    (job_id,) = queue(instance, "again")
    change(instance, job_id, attempts=1)  # it ran once and failed
    assert run_one(instance, gathering=held) is True
    assert PASSES == [["again"]]


def test_without_a_gathering_every_due_job_runs_at_once(instance: Instance) -> None:
    queue(instance, "a")
    assert jobs.run_pending(instance) == 1
    assert PASSES == [["a"]]


def test_no_wait_means_no_gathering(instance: Instance) -> None:
    queue(instance, "a")
    assert run_one(instance, gathering=Gathering(0.0)) is True
    assert PASSES == [["a"]]


def test_other_kinds_run_while_one_gathers(instance: Instance) -> None:
    held = gathering(Clock())
    queue(instance, "a")
    echo = enqueue(instance, "test.echo", {"text": "now"})
    ran: list[Any] = []
    while run_one(instance, gathering=held):
        ran.append(True)
    assert load(instance, echo).status == "done"
    assert PASSES == []
