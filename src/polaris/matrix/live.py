"""What wakes a long-polling ``/sync``: the change stream moving on, and typing notices.

One watcher thread per app (``live_of``; it ends when unused for ``IDLE_SECONDS`` and the next
sync starts it again) waits for the change stream's wake-up (``events.service.WAKE``,
set by a commit that appended events in this process and, with ``jobs.redis_url`` set, by the
Redis nudge of any node), sequences what is waiting (``events.consumers.sequence_pending``, so a
message is readable by position at once rather than at the event runner's next pass) and, when
the head moved, wakes every waiting ``/sync`` of the process. The events themselves stay in the
database: a waiter reads them with ``events.since``. A missed wake-up costs one poll interval.

Typing notices are ephemeral (Matrix: never stored): they live in this process's memory for their
``timeout``, each change numbered by a serial that ``/sync`` tokens carry. On several nodes, a
typing notice is seen only by clients syncing on the node that received it (docs/matrix.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import unit_of_work
from polaris.events import consumers
from polaris.events import notify as event_notify
from polaris.events import service as events
from polaris.jobs.notify import RedisNudge

log = logging.getLogger("polaris.matrix")

#: The watcher's poll when no wake-up comes (a lost nudge, another node's sequencer).
POLL_SECONDS = 1.0
#: A watcher no sync has used for this long ends (the next sync starts another).
IDLE_SECONDS = 300.0
#: Consecutive failed passes after which the watcher ends (the next sync starts another).
MAX_FAILURES = 30
#: Longest typing notice kept (Matrix clients send 30 s).
MAX_TYPING_MS = 120_000


@dataclass
class _Typing:
    until: float
    serial: int


@dataclass
class Live:
    """The process's stream head as last seen, typing notices, and the waiting syncs."""

    head: int = 0
    serial: int = 0
    _typing: dict[int, dict[int, _Typing]] = field(default_factory=dict)
    _room_serial: dict[int, int] = field(default_factory=dict)
    _waiters: dict[asyncio.AbstractEventLoop, asyncio.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _nudge: RedisNudge | None = None
    _used: float = 0.0

    # --- the watcher -------------------------------------------------------------------------

    def start(self, sessions: sessionmaker[Session], redis_url: str | None = None) -> None:
        """Make sure the watcher runs (each sync calls this: a watcher left idle, or stopped by
        a failing database, ends by itself and the next sync starts another)."""
        with self._lock:
            self._used = time.monotonic()
            if self._thread is not None and self._thread.is_alive():
                return
            if redis_url is not None and self._nudge is None:  # other nodes' commits, even
                # on a node without an event runner
                self._nudge = RedisNudge(redis_url, channel=event_notify.CHANNEL)
                self._nudge.listen(events.WAKE)
            self._thread = threading.Thread(
                target=self._run, args=(sessions,), name="matrix-sync", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        events.WAKE.set()
        if self._nudge is not None:
            self._nudge.close()

    def _run(self, sessions: sessionmaker[Session]) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                consumers.sequence_pending(sessions)
                with unit_of_work(sessions) as session:
                    head = events.head_position(session)
                failures = 0
            except Exception:  # a database hiccup must not end the watcher at once
                log.exception("the Matrix sync watcher could not read the stream head")
                failures += 1
                head = self.head
            idle = time.monotonic() - self._used > IDLE_SECONDS and not self._waiters
            if failures >= MAX_FAILURES or idle:
                return
            if head != self.head:
                self.head = head
                self._wake_all()
                continue  # look again at once: a commit during this pass is not missed
            events.WAKE.wait(POLL_SECONDS)

    # --- waiting -----------------------------------------------------------------------------

    def _wake_all(self) -> None:
        with self._lock:
            waiting, self._waiters = self._waiters, {}
        for loop, signal in waiting.items():
            try:
                loop.call_soon_threadsafe(signal.set)
            except RuntimeError:  # that loop has closed
                continue

    async def wait(self, head: int, serial: int, timeout: float) -> None:
        """Until the stream head passes ``head``, a typing change passes ``serial``, or
        ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.head <= head and self.serial <= serial:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with self._lock:
                signal = self._waiters.setdefault(loop, asyncio.Event())
            if self.head > head or self.serial > serial:
                return
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except TimeoutError:
                return

    # --- typing ------------------------------------------------------------------------------

    def set_typing(self, room_id: int, user_id: int, typing: bool, timeout_ms: int) -> None:
        with self._lock:
            self.serial += 1
            room = self._typing.setdefault(room_id, {})
            if typing:
                until = time.monotonic() + min(max(timeout_ms, 0), MAX_TYPING_MS) / 1000
                room[user_id] = _Typing(until, self.serial)
            else:
                room.pop(user_id, None)
            self._room_serial[room_id] = self.serial
        self._wake_all()

    def typing(self, room_id: int) -> list[int]:
        now = time.monotonic()
        with self._lock:
            room = self._typing.get(room_id, {})
            for user_id in [u for u, t in room.items() if t.until <= now]:
                del room[user_id]
            return sorted(room)

    def typing_changed(self, room_id: int, since_serial: int) -> bool:
        """Whether a client that saw typing up to ``since_serial`` must be told the room's
        typing again (a serial from before this process started counts as changed)."""
        changed = self._room_serial.get(room_id, 0)
        return changed > since_serial or since_serial > self.serial


def live_of(app: Any) -> Live:
    """The app's ``Live`` (one per app, hence per instance and database), made at first use."""
    found = getattr(app.state, "matrix_live", None)
    if found is None:
        found = app.state.matrix_live = Live()
    assert isinstance(found, Live)
    return found
