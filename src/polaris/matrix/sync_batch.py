"""Woken syncs built together: one thread call and one read-only transaction for every
incremental ``/sync`` answer waiting to be built.

A message wakes every member's long-poll at once, and each woken sync used to open its own
session and read transaction for a few short statements: the transaction's begin, commit and
the session around it were a fifth of a woken sync's thread work. :class:`Batcher` queues the
builds; one call in the syncs' lane (``web.lanes``) takes every build queued, runs them one
after the other in one session and read-only transaction (a consistent snapshot; the rooms'
rows are loaded once into the session for all of them), hands each its answer, and takes what
queued meanwhile. Only reads run here, and each build decides for its own caller (``access``
through ``chat.rooms.require_room``) as before.

Answers go first. Once a message has woken its room's long-polls, every answered client comes
straight back with a new long-poll whose first look (its caller, token and filter) also queues
here. Those looks must not hold up the answers still waiting: they would make the last member's
delivery wait for the first members' next requests. A pass takes every answer queued and at most
:data:`LOOKS_A_PASS` of the other builds, answers first; what it leaves waits for the next pass.
An answer is never added to a pass already running: its transaction's snapshot may be older
than the head the answer says it is complete to. A pass hands its answers over together, in one
wake-up of the event loop once the last answer is built, before the pass builds its first
looks (``_give_all``): the loop then sends them all before it reads the new requests of the
clients answered first. Handed over one by one, the loop took those requests in between, and
the last member's delivery waited for them (at 200 members a message's deliveries spread over
100 ms instead of 70).

A build may carry a ``hint`` (a long-poll's access token): before a pass runs its builds, the
batcher's ``prepare`` is handed every hint of the pass, in the pass's transaction, to read for
all of them at once what each would read alone (``caller.prefetch``: the pass's sessions in one
statement).

A build that fails is built again alone in a transaction of its own (``db.uow.transaction``):
a refusal then rolls back and runs its after-rollback effects (its audit record) exactly as an
unbatched sync's would, and the failure reaches only its own request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import pop_after_rollback, transaction
from polaris.web.lanes import Lane

log = logging.getLogger("polaris.matrix")
T = TypeVar("T")

#: What a batcher hands every hint of a pass to, in the pass's session and transaction.
Prepare = Callable[[Session, list[Any]], None]

#: The most builds that are not answers (long-polls' first looks) one pass takes.
LOOKS_A_PASS = 32


@dataclass(eq=False)
class _Build(Generic[T]):
    work: Callable[[Session], T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    hint: Any = None
    answer: bool = False

    def give(self, value: T) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, value, None)

    def fail(self, error: BaseException) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, None, error)


def _give_all(built: list[tuple[_Build[Any], Any]]) -> None:
    """Hand a pass's answers to their requests with one wake-up of each event loop: the loop
    then sends every answer before it reads the new requests the first answered clients
    make (given one by one, each answer's wake-up let those in between)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for build, value in built:
        by_loop.setdefault(build.loop, []).append((build.future, value))
    for loop, results in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: its requests are gone
            loop.call_soon_threadsafe(_settle_all, results)


def _settle_all(results: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for future, value in results:
        _settle(future, value, None)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # its request was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class Batcher:
    """Builds queued by any request, run together in ``lane``, each in ``sessions``' session."""

    def __init__(
        self, sessions: sessionmaker[Session], lane: Lane, prepare: Prepare | None = None
    ) -> None:
        self._sessions = sessions
        self._lane = lane
        self._prepare = prepare
        self._lock = threading.Lock()
        self._answers: list[_Build[Any]] = []
        self._others: deque[_Build[Any]] = deque()
        self._draining = False
        #: How many builds each of the last passes took (for the tests; bounded, as a server
        #: makes passes for as long as it runs).
        self.passes: deque[int] = deque(maxlen=64)

    async def run(
        self, work: Callable[[Session], T], *, answer: bool = False, hint: Any = None
    ) -> T:
        """``work(session)`` in a read-only transaction shared with the builds queued with it;
        an ``answer`` (a woken sync's) goes before every build that is not one; ``hint``: for
        the batcher's ``prepare``."""
        loop = asyncio.get_running_loop()
        build: _Build[T] = _Build(work, loop, loop.create_future(), hint, answer)
        with self._lock:
            if answer:
                self._answers.append(build)
            else:
                self._others.append(build)
            start = not self._draining
            self._draining = True
        if start:
            drain = asyncio.ensure_future(self._lane.run(self._drain))
            drain.add_done_callback(_log_failure)
        return await build.future

    def _drain(self) -> None:
        builds: list[_Build[Any]] = []
        try:
            while True:
                with self._lock:
                    builds = self._take()
                    if not builds:
                        self._draining = False
                        return
                self._together(builds)
        except BaseException as error:
            # Never leave a request waiting, nor the batcher marked busy with no drain running
            # (every later sync would queue behind a drain that never comes).
            with self._lock:
                left = [*self._answers, *self._others]
                self._answers, self._others = [], deque()
                self._draining = False
            for build in [*builds, *left]:
                build.fail(error)
            raise

    def _take(self) -> list[_Build[Any]]:
        """The next pass's builds (under the lock): every answer, then some of the rest."""
        builds, self._answers = self._answers, []
        for _ in range(min(LOOKS_A_PASS, len(self._others))):
            builds.append(self._others.popleft())
        return builds

    def _together(self, builds: list[_Build[Any]]) -> None:
        self.passes.append(len(builds))
        again: list[_Build[Any]] = []
        done = 0
        session = self._sessions()
        try:
            with transaction(session, read_only=True):
                hints = [b.hint for b in builds if b.hint is not None]
                if hints and self._prepare is not None:
                    self._prepare(session, hints)
                built: list[tuple[_Build[Any], Any]] = []
                for build in builds:
                    if built and not build.answer and built[-1][0].answer:
                        _give_all(built)  # the answers, before the first looks are built
                        built = []
                    if not build.future.done():
                        try:
                            built.append((build, build.work(session)))
                        except Exception:
                            # Its effects (a refusal's audit) run when it is built again alone.
                            pop_after_rollback(session)
                            again.append(build)
                    done += 1
                _give_all(built)
        except Exception:  # the shared transaction itself failed: the rest alone
            again.extend(builds[done:])
        finally:
            session.close()
        for build in again:
            self._alone(build)

    def _alone(self, build: _Build[Any]) -> None:
        session = self._sessions()
        try:
            with transaction(session, read_only=True):
                value = build.work(session)
        except BaseException as error:
            build.fail(error)
        else:
            build.give(value)
        finally:
            session.close()


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("woken syncs could not be built", exc_info=task.exception())


_BATCHERS_LOCK = threading.Lock()


def batcher_of(
    state: object, sessions: sessionmaker[Session], lane: Lane, prepare: Prepare | None = None
) -> Batcher:
    """The batcher kept on ``state`` (the app's)."""
    with _BATCHERS_LOCK:
        found = getattr(state, "sync_batcher", None)
        if not isinstance(found, Batcher):
            found = Batcher(sessions, lane, prepare)
            setattr(state, "sync_batcher", found)  # noqa: B010 - the app's state holds any attribute
        return found
