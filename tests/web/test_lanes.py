"""``web.lanes``: a lane runs at most its number of calls at once and queues the rest in order;
a call sees the caller's context variables; an error reaches its caller; a cancelled caller
waits for its call to end (its clean-up closes what the call uses)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from polaris.web.lanes import Lane
from tests.support.aio import run_coroutine

REQUEST = contextvars.ContextVar("REQUEST", default="none")


def test_a_lane_runs_at_most_its_threads_and_queues_the_rest() -> None:
    lane = Lane(2, "test")
    release = threading.Event()
    started = threading.Condition()
    running: list[int] = []
    order: list[int] = []

    def work(number: int) -> int:
        with started:
            running.append(number)
            order.append(number)
            started.notify_all()
        assert release.wait(30), "the test never released the calls"
        with started:
            running.remove(number)
        return number * 10

    async def main() -> list[int]:
        calls = [asyncio.ensure_future(lane.run(work, n)) for n in range(5)]
        loop = asyncio.get_running_loop()

        def two_running() -> None:
            with started:
                assert started.wait_for(lambda: len(running) == 2, timeout=30)

        await loop.run_in_executor(None, two_running)
        assert sorted(running) == [0, 1]
        assert lane.queued == 3  # both threads busy: the other three wait their turn
        release.set()
        return list(await asyncio.gather(*calls))

    assert run_coroutine(main()) == [0, 10, 20, 30, 40]
    assert sorted(order[:2]) == [0, 1] and sorted(order[2:]) == [2, 3, 4]


def test_a_call_sees_the_callers_context_and_its_error_reaches_the_caller() -> None:
    lane = Lane(1, "test")

    def fail() -> None:
        raise ValueError(f"bad input in {REQUEST.get()}")

    async def main() -> str:
        REQUEST.set("request 7")
        try:
            await lane.run(fail)
        except ValueError as error:
            assert str(error) == "bad input in request 7"
        else:
            raise AssertionError("the error was lost")
        return await lane.run(REQUEST.get)

    assert run_coroutine(main()) == "request 7"
    assert run_coroutine(lane.run(REQUEST.get)) == "none"  # another task, its own context


def test_a_cancelled_caller_waits_for_its_call_to_end() -> None:
    lane = Lane(1, "test")
    release = threading.Event()
    entered = threading.Event()
    ended: list[str] = []

    def work() -> None:
        entered.set()
        assert release.wait(30)
        ended.append("call")

    async def request() -> None:
        try:
            await lane.run(work)
        finally:
            ended.append("clean-up")

    async def main() -> None:
        task = asyncio.ensure_future(request())
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, entered.wait, 30)
        task.cancel()
        for _ in range(20):  # turns of the loop: the task cannot end while the call runs
            await asyncio.sleep(0)
        assert not task.done()
        release.set()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the cancellation was lost")

    run_coroutine(main())
    assert ended == ["call", "clean-up"]
