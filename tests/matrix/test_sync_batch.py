"""``matrix.sync_batch``: the woken syncs' builds queued together run in one pass, in one session
and read-only transaction; a build that fails is built again alone, in a transaction of its own
whose rollback runs its after-rollback effects once; each request gets its own answer or error,
a pass that cannot even start fails its builds and leaves the batcher working; answers are built
before the other builds, and a pass takes a bounded number of those; a pass's answers reach the
event loop together, once all are built."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, cast

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import after_rollback
from polaris.matrix.sync_batch import LOOKS_A_PASS, Batcher, Prepare
from polaris.web.lanes import Lane
from tests.support.aio import run_coroutine

Work = Callable[[Session], Any]


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    engine = create_engine("sqlite://")
    try:
        yield sessionmaker(engine)
    finally:
        engine.dispose()


def queued_together(
    sessions: Callable[[], Session],
    works: Sequence[Work],
    *,
    cancel: Sequence[int] = (),
    answers: Sequence[int] = (),
    hints: dict[int, Any] | None = None,
    prepare: Prepare | None = None,
) -> tuple[Batcher, list[Any]]:
    """Run ``works`` through a batcher whose lane is held busy until all are queued (so that one
    pass takes them all, up to its bound); those at the positions ``answers`` are answers; cancel
    the requests at the positions ``cancel``. The batcher, and each request's answer or error
    (cancelled ones left out). ``hints``: by position; ``prepare``: the batcher's."""
    lane = Lane(1, "test")
    batcher = Batcher(cast(sessionmaker[Session], sessions), lane, prepare)
    hints = hints or {}
    release = threading.Event()

    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        blocker = asyncio.ensure_future(lane.run(release.wait, 30))  # the lane's one thread
        requests = [
            asyncio.ensure_future(batcher.run(work, answer=n in answers, hint=hints.get(n)))
            for n, work in enumerate(works)
        ]
        for _ in range(10):  # each queues on its first step
            await asyncio.sleep(0)
        for position in cancel:
            requests[position].cancel()
        await loop.run_in_executor(None, release.set)
        await blocker
        kept = [r for n, r in enumerate(requests) if n not in cancel]
        return list(await asyncio.gather(*kept, return_exceptions=True))

    return batcher, run_coroutine(main())


def test_builds_queued_together_share_one_pass_and_session(
    sessions: sessionmaker[Session],
) -> None:
    seen: list[int] = []

    def work(number: int) -> Work:
        def build(session: Session) -> int:
            seen.append(id(session))
            return int(session.execute(text("SELECT :n * 10"), {"n": number}).scalar_one())

        return build

    batcher, answers = queued_together(sessions, [work(n) for n in range(5)])
    assert answers == [0, 10, 20, 30, 40]
    assert list(batcher.passes) == [5]
    assert len(set(seen)) == 1  # one session for the pass


def test_a_failing_build_is_built_again_alone_and_fails_alone(
    sessions: sessionmaker[Session],
) -> None:
    effects: list[str] = []

    def good(session: Session) -> str:
        return "answer"

    def refused(session: Session) -> str:
        after_rollback(session, lambda s: effects.append("audited"))
        raise PermissionError("not a member")

    batcher, (first, second, third) = queued_together(sessions, [good, refused, good])
    assert first == third == "answer"
    assert isinstance(second, PermissionError)
    assert effects == ["audited"]  # once: in its own transaction's rollback, not the pass's
    assert list(batcher.passes) == [3]


def test_a_cancelled_request_does_not_stop_the_others(sessions: sessionmaker[Session]) -> None:
    _, answers = queued_together(sessions, [lambda s: "lost", lambda s: "kept"], cancel=[0])
    assert answers == ["kept"]


def test_a_pass_that_cannot_start_fails_its_builds_and_the_next_pass_runs(
    sessions: sessionmaker[Session],
) -> None:
    calls = 0

    def flaky() -> Session:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("no connection")
        return sessions()

    batcher, answers = queued_together(flaky, [lambda s: "a", lambda s: "b"])
    assert [type(a) for a in answers] == [RuntimeError, RuntimeError]

    async def later() -> str:  # the same batcher, not stuck "draining" (it would never answer)
        return await asyncio.wait_for(batcher.run(lambda s: "after"), 30)

    assert run_coroutine(later()) == "after"


def test_answers_go_first_and_a_pass_takes_a_bounded_number_of_looks(
    sessions: sessionmaker[Session],
) -> None:
    order: list[str] = []

    def work(name: str) -> Work:
        def build(session: Session) -> str:
            order.append(name)
            return name

        return build

    looks = [f"look {n}" for n in range(LOOKS_A_PASS + 3)]
    names = [*looks[:2], "answer 1", *looks[2:], "answer 2"]
    batcher, answers = queued_together(
        sessions, [work(name) for name in names], answers=[2, len(names) - 1]
    )
    assert answers == names  # each request its own answer
    assert order == ["answer 1", "answer 2", *looks]  # queued after looks, built before them
    assert list(batcher.passes) == [LOOKS_A_PASS + 2, 3]


def test_prepare_gets_every_hint_of_a_pass_in_its_session_before_the_builds(
    sessions: sessionmaker[Session],
) -> None:
    seen: list[Any] = []

    def prepare(session: Session, hints: list[Any]) -> None:
        seen.append(("prepare", id(session), sorted(hints)))

    def work(name: str) -> Work:
        def build(session: Session) -> str:
            seen.append(("build", id(session), name))
            return name

        return build

    _, answers = queued_together(
        sessions,
        [work("a"), work("answer"), work("b")],
        answers=[1],
        hints={0: "token-a", 2: "token-b"},
        prepare=prepare,
    )
    assert answers == ["a", "answer", "b"]
    assert [entry[0] for entry in seen] == ["prepare", "build", "build", "build"]
    assert seen[0][2] == ["token-a", "token-b"]  # the hints only, once a pass
    assert len({entry[1] for entry in seen}) == 1  # in the pass's session


def test_a_prepare_that_fails_leaves_each_build_to_be_built_alone(
    sessions: sessionmaker[Session],
) -> None:
    def prepare(session: Session, hints: list[Any]) -> None:
        raise RuntimeError("the prefetch failed")

    lane = Lane(1, "test")
    batcher = Batcher(sessions, lane, prepare)

    async def main() -> list[str]:
        return list(
            await asyncio.gather(
                batcher.run(lambda s: "one", hint="t1"), batcher.run(lambda s: "two", hint="t2")
            )
        )

    assert run_coroutine(main()) == ["one", "two"]


async def in_one_pass(lane: Lane, requests: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run ``requests`` with ``lane``'s one thread held busy until each has queued its build,
    so that one pass of the batcher takes them all."""
    release = threading.Event()
    blocker = asyncio.ensure_future(lane.run(release.wait, 30))
    tasks = [asyncio.ensure_future(request) for request in requests]
    for _ in range(10):  # each queues on its first step
        await asyncio.sleep(0)
    await asyncio.get_running_loop().run_in_executor(None, release.set)
    await blocker
    await asyncio.gather(*tasks)


def test_a_pass_hands_over_its_answers_together_once_all_are_built(
    sessions: sessionmaker[Session],
) -> None:
    """The event loop gets a pass's answers in one wake-up, after the last is built: it sends
    them all before it reads the new requests of the clients answered first. Each build lets
    the loop run (a round trip to it) before it goes on: given one by one, an earlier answer's
    request would resume meanwhile."""
    lane = Lane(1, "test")
    batcher = Batcher(sessions, lane)
    resumed: list[int] = []
    seen_resumed: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def work(number: int) -> Work:
            def build(session: Session) -> int:
                asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(30)
                seen_resumed.append(len(resumed))
                return number

            return build

        async def request(number: int) -> None:
            await batcher.run(work(number), answer=True)
            resumed.append(number)

        await in_one_pass(lane, [request(n) for n in range(4)])

    run_coroutine(main())
    assert list(batcher.passes) == [4]
    assert seen_resumed == [0, 0, 0, 0]
    assert sorted(resumed) == [0, 1, 2, 3]


def test_a_pass_hands_over_its_answers_before_it_builds_its_first_looks(
    sessions: sessionmaker[Session],
) -> None:
    """The answers do not wait for the looks of the same pass: they are handed over once the
    last answer is built, and the looks' own results after."""
    lane = Lane(1, "test")
    batcher = Batcher(sessions, lane)
    resumed: list[str] = []
    seen_by_look: list[list[str]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def answer(session: Session) -> str:
            return "answer"

        def look(session: Session) -> str:
            for _ in range(2):  # round trips to the loop: the answers' requests resume
                asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(30)
            seen_by_look.append(list(resumed))
            return "look"

        async def request(work: Work, *, is_answer: bool) -> None:
            resumed.append(await batcher.run(work, answer=is_answer))

        await in_one_pass(
            lane,
            [
                request(look, is_answer=False),
                request(answer, is_answer=True),
                request(answer, is_answer=True),
            ],
        )

    run_coroutine(main())
    assert list(batcher.passes) == [3]
    assert seen_by_look == [["answer", "answer"]]
    assert resumed == ["answer", "answer", "look"]
