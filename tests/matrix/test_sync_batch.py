"""``matrix.sync_batch``: the woken syncs' builds queued together run in one pass, in one session
and read-only transaction; a build that fails is built again alone, in a transaction of its own
whose rollback runs its after-rollback effects once; each request gets its own answer or error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import after_rollback
from polaris.matrix.sync_batch import Batcher
from polaris.web.lanes import Lane
from tests.support.aio import run_coroutine


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    engine = create_engine("sqlite://")
    try:
        yield sessionmaker(engine)
    finally:
        engine.dispose()


def test_builds_queued_together_share_one_pass_and_session(
    sessions: sessionmaker[Session],
) -> None:
    lane = Lane(1, "test")
    batcher = Batcher(sessions, lane)
    release = threading.Event()
    seen: list[int] = []

    def work(number: int) -> object:
        def build(session: Session) -> int:
            seen.append(id(session))
            return int(session.execute(text("SELECT :n * 10"), {"n": number}).scalar_one())

        return build

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        blocker = asyncio.ensure_future(lane.run(release.wait, 30))  # the lane's one thread
        builds = [asyncio.ensure_future(batcher.run(work(n))) for n in range(5)]  # type: ignore[arg-type]
        for _ in range(10):  # each queues on its first step
            await asyncio.sleep(0)
        await loop.run_in_executor(None, release.set)
        await blocker
        return list(await asyncio.gather(*builds))

    assert run_coroutine(main()) == [0, 10, 20, 30, 40]
    assert list(batcher.passes) == [5]
    assert len(set(seen)) == 1  # one session for the pass


def test_a_failing_build_is_built_again_alone_and_fails_alone(
    sessions: sessionmaker[Session],
) -> None:
    lane = Lane(1, "test")
    batcher = Batcher(sessions, lane)
    release = threading.Event()
    effects: list[str] = []

    def good(session: Session) -> str:
        return "answer"

    def refused(session: Session) -> str:
        after_rollback(session, lambda s: effects.append("audited"))
        raise PermissionError("not a member")

    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        blocker = asyncio.ensure_future(lane.run(release.wait, 30))
        builds = [asyncio.ensure_future(batcher.run(work)) for work in (good, refused, good)]
        for _ in range(10):
            await asyncio.sleep(0)
        await loop.run_in_executor(None, release.set)
        await blocker
        return list(await asyncio.gather(*builds, return_exceptions=True))

    first, second, third = run_coroutine(main())
    assert first == third == "answer"
    assert isinstance(second, PermissionError)
    assert effects == ["audited"]  # once: in its own transaction's rollback, not the pass's
    assert list(batcher.passes) == [3]


def test_a_cancelled_request_does_not_stop_the_others(sessions: sessionmaker[Session]) -> None:
    lane = Lane(1, "test")
    batcher = Batcher(sessions, lane)
    release = threading.Event()

    async def main() -> object:
        loop = asyncio.get_running_loop()
        blocker = asyncio.ensure_future(lane.run(release.wait, 30))
        gone = asyncio.ensure_future(batcher.run(lambda s: "lost"))
        kept = asyncio.ensure_future(batcher.run(lambda s: "kept"))
        for _ in range(10):
            await asyncio.sleep(0)
        gone.cancel()
        await loop.run_in_executor(None, release.set)
        await blocker
        return await kept

    assert run_coroutine(main()) == "kept"
