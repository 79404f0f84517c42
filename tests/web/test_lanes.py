"""``web.lanes``: a lane runs at most its number of calls at once, queues the rest in order, and
keeps a limiter per event loop."""

from __future__ import annotations

import asyncio
import threading

from polaris.web.lanes import Lane


def test_a_lane_runs_at_most_its_threads_and_queues_the_rest() -> None:
    lane = Lane(2)
    release = threading.Event()
    started = threading.Condition()
    running: list[int] = []
    most = 0
    order: list[int] = []

    def work(number: int) -> int:
        nonlocal most
        with started:
            running.append(number)
            most = max(most, len(running))
            started.notify_all()
        assert release.wait(30), "the test never released the calls"
        with started:
            running.remove(number)
            order.append(number)
        return number * 10

    async def main() -> list[int]:
        calls = [asyncio.ensure_future(lane.run(work, n)) for n in range(5)]
        loop = asyncio.get_running_loop()

        def two_running() -> None:
            with started:
                assert started.wait_for(lambda: len(running) == 2, timeout=30)

        await loop.run_in_executor(None, two_running)
        stats = lane._limiter().statistics()
        assert stats.borrowed_tokens == 2
        assert stats.tasks_waiting == 3
        release.set()
        return list(await asyncio.gather(*calls))

    assert asyncio.run(main()) == [0, 10, 20, 30, 40]
    assert most == 2
    assert sorted(order[:2]) == [0, 1]  # the first two in, the queued ones after


def test_each_event_loop_has_its_own_limiter() -> None:
    lane = Lane(1)

    async def limiter_id() -> int:
        assert await lane.run(lambda: 7) == 7
        return id(lane._limiter())

    first = asyncio.new_event_loop()
    second = asyncio.new_event_loop()
    try:
        a = first.run_until_complete(limiter_id())
        assert first.run_until_complete(limiter_id()) == a  # kept for its loop
        second.run_until_complete(limiter_id())
        assert len(lane._limiters) == 2
    finally:
        first.close()
        second.close()


def test_an_error_in_a_call_reaches_its_caller_and_frees_its_place() -> None:
    lane = Lane(1)

    def fail() -> None:
        raise ValueError("bad input")

    async def main() -> int:
        try:
            await lane.run(fail)
        except ValueError as error:
            assert str(error) == "bad input"
        else:
            raise AssertionError("the error was lost")
        return await lane.run(lambda: 3)

    assert asyncio.run(main()) == 3
