"""Waking the clients waiting in a sync (long-poll or WebSocket) when chat events commit.

The events stay in the database; what travels is a nudge. One hub per process:

- a commit of chat events in this process sets the hub's wake-up (``chat.events.listen``);
- a commit on another node publishes the change stream's existing Redis nudge
  (``polaris.events.notify``, channel ``polaris:events``), which the hub listens to as well;
- a lost nudge costs one poll interval (``jobs.poll_seconds``).

Woken, the hub gives waiting events their positions itself (``events.sequence``: the event runner
may run on another node, or not at all on a web node), reads the head and, when it moved,
wakes every waiter, which then reads the stream from its own position (``chat.sync``). Waiters are
asyncio futures: a waiting client holds no thread and no database connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from polaris import events
from polaris.chat import events as chat_events
from polaris.db.uow import unit_of_work
from polaris.events import notify as event_notify
from polaris.jobs.notify import RedisNudge

log = logging.getLogger("polaris.chat")


class Hub:
    """The stream head as this process last saw it, and the clients waiting for it to move."""

    def __init__(
        self, sessions: sessionmaker[Session], *, redis_url: str | None, poll_seconds: float
    ) -> None:
        self._sessions = sessions
        self._redis_url = redis_url
        self._poll = poll_seconds
        self._lock = threading.Lock()
        self._head = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None], int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chat-live", daemon=True)
        self._nudge: RedisNudge | None = None
        self._wake = threading.Event()

    def start(self) -> None:
        chat_events.listen(self._wake)
        if self._redis_url is not None:
            self._nudge = RedisNudge(self._redis_url, channel=event_notify.CHANNEL)
            self._nudge.listen(self._wake)
        self._wake.set()  # the first pass reads the head at once, in the hub's thread
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        chat_events.unlisten(self._wake)
        self._wake.set()
        self._thread.join(timeout=10)
        if self._nudge is not None:
            self._nudge.close()

    def poke(self) -> None:
        """Look at the stream now (events committed elsewhere wait for their positions)."""
        self._wake.set()

    @property
    def waiting(self) -> int:
        """How many clients wait now (for the status page and the tests)."""
        with self._lock:
            return len(self._waiters)

    @property
    def head(self) -> int:
        with self._lock:
            return self._head

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()  # before the pass: a commit during it wakes the next one
            if self._stop.is_set():
                return
            try:
                self._advance()
            except Exception:  # a database hiccup must not end the hub
                log.exception("the chat hub could not read the stream")

    def _advance(self) -> None:
        with unit_of_work(self._sessions) as session:
            events.sequence(session)
        with unit_of_work(self._sessions) as session:
            head = events.head_position(session)
        with self._lock:
            if head <= self._head:
                return
            self._head = head
            woken = [w for w in self._waiters if w[2] < head]
            self._waiters = [w for w in self._waiters if w[2] >= head]
        for loop, future, _ in woken:
            loop.call_soon_threadsafe(_resolve, future)

    async def wait_beyond(self, position: int, timeout: float) -> bool:
        """Wait until the head passes ``position`` or ``timeout`` seconds pass; whether it did."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future, position)
        with self._lock:
            if self._head > position:
                return True
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_HUB_LOCK = threading.Lock()


def hub_of(
    state: object, sessions: sessionmaker[Session], redis_url: str | None, poll: float
) -> Hub:
    """The hub kept on ``state`` (the app's), started on first use: an app that never serves a
    sync runs no thread for it. ``stop_hub`` at the app's shutdown."""
    with _HUB_LOCK:
        hub = getattr(state, "chat_hub", None)
        if hub is None:
            hub = Hub(sessions, redis_url=redis_url, poll_seconds=poll)
            hub.start()
            setattr(state, "chat_hub", hub)  # noqa: B010 - the app's state holds any attribute
        assert isinstance(hub, Hub)
        return hub


def stop_hub(state: object) -> None:
    with _HUB_LOCK:
        hub = getattr(state, "chat_hub", None)
        if isinstance(hub, Hub):
            hub.stop()
            setattr(state, "chat_hub", None)  # noqa: B010
