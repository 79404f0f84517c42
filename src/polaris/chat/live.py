"""The one place that wakes the clients waiting for chat changes: the messenger's sync (long-poll
and WebSocket) and Matrix's ``/sync`` alike.

The events stay in the database; what travels is a nudge. One hub per app (``hub_of``):

- a commit of chat events in this process sets the hub's wake-up (``chat.events.listen``);
- a commit on another node publishes the change stream's existing Redis nudge
  (``polaris.events.notify``, channel ``polaris:events``), which the hub listens to as well;
- a lost nudge costs one poll interval (``jobs.poll_seconds``).

Woken, the hub gives waiting events their positions (``events.consumers.sequence_pending``: the
event runner may run on another node, or not at all on a web node), then reads the chat events
after the last position it saw, **once for every waiter** (``recent``), and wakes only the waiters
those events concern: a waiter names the rooms it follows (its memberships, read by its last sync)
and its user, so a message wakes the syncs of that room's members, and a membership event about a
user (an invitation into a new room) wakes that user's syncs. A waiter's woken sync then reads its
changes from the hub's copy of the recent events rather than the database (``recent``), filtering
them with its own memberships and the access rules; only what it may see is read further.

The copy is exact: the hub reads the head H first, then every chat event after its previous
head up to H (positions are given only to committed events, after every position given before),
so ``recent(P)`` for P at or after the copy's floor is what ``events.since`` would answer up to
H. Older positions (a client long away, a hub just started) read the database, as before.

A pass or a typing notice that wakes waiters tells ``polaris.foreground``: their answers are
foreground work, and the process's background threads (the event runner, the job worker) wait
for them before their next step.

Typing notices (``chat.typing_state``) live here too: setting one wakes the waiters of its room
that follow typing (Matrix's ``/sync``). Waiters are asyncio futures: a waiting client holds no
thread and no database connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from polaris.chat import events as chat_events
from polaris.chat.typing_state import TypingBoard
from polaris.chat.waiters import Waiter, WaiterIndex, about_user, resolve_all, room_of
from polaris.db.uow import unit_of_work
from polaris.events import consumers
from polaris.events import notify as event_notify
from polaris.events import service as events
from polaris.foreground import FOREGROUND, Foreground
from polaris.jobs.notify import RedisNudge

log = logging.getLogger("polaris.chat")

#: Every kind the messenger appends (docs/chat.md, "Change events"): what the hub reads.
KINDS = (
    chat_events.ROOM_CREATED,
    chat_events.ROOM_CHANGED,
    chat_events.MEMBER_CHANGED,
    chat_events.MESSAGE_SENT,
    chat_events.MESSAGE_EDITED,
    chat_events.MESSAGE_REDACTED,
    chat_events.RECEIPT_UPDATED,
    chat_events.MARKER_UPDATED,
    chat_events.ACCOUNT_UPDATED,
    chat_events.BROADCAST_ACKNOWLEDGED,
    chat_events.BROADCAST_REMINDED,
)
#: Chat events kept in memory for the waiters to read (a few minutes of a busy station).
KEEP = 5_000
#: Events read per pass; a longer run is read in several.
READ_BATCH = 1_000
#: Values kept by ``Hub.shared``, and how long a sync waits for another to compute one.
SHARED = 512
SHARED_WAIT = 5.0
#: Users whose rooms the hub remembers from their last sync (``quiet``).
REMEMBERED = 10_000

T = TypeVar("T")


@dataclass(eq=False)
class _Shared:
    ready: threading.Event = field(default_factory=threading.Event)
    value: object = None
    failed: bool = True


class Hub:
    """The stream head as this process last saw it, the chat events since a floor, the typing
    notices, and the clients waiting."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        redis_url: str | None,
        poll_seconds: float,
        foreground: Foreground = FOREGROUND,
    ) -> None:
        self._sessions = sessions
        #: Told when a pass wakes waiters: their answers are foreground work.
        self._foreground = foreground
        self._redis_url = redis_url
        self._poll = poll_seconds
        self._lock = threading.Lock()
        self._head = 0
        #: ``_recent`` holds every chat event in (``_floor``, ``_head``]; None: no copy yet.
        self._floor: int | None = None
        self._recent: deque[events.Event] = deque()
        self._waiters = WaiterIndex()
        self._shared: OrderedDict[Hashable, _Shared] = OrderedDict()
        self._rooms_of: OrderedDict[int, tuple[int, frozenset[int]]] = OrderedDict()
        self._stop = threading.Event()
        #: Set when the server is asked to stop: no sync waits any more.
        self._released = False
        self._thread = threading.Thread(target=self._run, name="chat-live", daemon=True)
        self._nudge: RedisNudge | None = None
        self._wake = threading.Event()
        self.typing_board = TypingBoard(redis_url)

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
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._nudge is not None:
            self._nudge.close()
        self.typing_board.close()

    def release(self) -> None:
        """Answer every waiting sync now, and every later one at once: the server is stopping.

        A graceful stop waits for the requests in flight; without this it would wait out every
        long-poll's timeout (30 s for Element), and a client that went away keeps its poll
        until then. A released sync answers with what it has; its client polls again elsewhere.
        """
        with self._lock:
            self._released = True
            woken = set(self._waiters.members)
        resolve_all(woken)

    @property
    def released(self) -> bool:
        """Whether :meth:`release` was called: a sync answers what it has and stops waiting."""
        return self._released

    def poke(self) -> None:
        """Look at the stream now (events committed elsewhere wait for their positions)."""
        self._wake.set()

    @property
    def waiting(self) -> int:
        """How many clients wait now (for the status page and the tests)."""
        with self._lock:
            return len(self._waiters.members)

    @property
    def head(self) -> int:
        with self._lock:
            return self._head

    @property
    def serial(self) -> int:
        """The typing serial: how many typing changes this process has seen."""
        return self.typing_board.serial

    # --- the hub's thread --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()  # before the pass: a commit during it wakes the next one
            if self._stop.is_set():
                return
            try:
                while self._advance():
                    pass
            except Exception:  # a database hiccup must not end the hub
                log.exception("the chat hub could not read the stream")

    def _advance(self) -> bool:
        """One read of the stream; whether there is more to read at once."""
        consumers.sequence_pending(self._sessions)
        with unit_of_work(self._sessions) as session:
            head = events.head_position(session)
            if self._floor is None:  # the first pass: the copy starts at the head
                batch = None
            elif head <= self._head:
                return False
            else:
                batch = [
                    e
                    for e in events.since(session, after=self._head, kinds=KINDS, limit=READ_BATCH)
                    if e.position <= head
                ]
        return self.absorb(batch, head)

    def absorb(self, batch: list[events.Event] | None, head: int) -> bool:
        """Take a pass's read: the chat events after the last head up to ``head`` (in position
        order, none past it), or None for the first pass (the copy starts at ``head``); wake
        the waiters they concern. Whether the batch was cut at ``READ_BATCH`` (read on)."""
        with self._lock:
            if batch is None:
                self._floor = self._head = head
                woken = set(self._waiters.members)  # they waited for a head the hub lacked
                full = False
            else:
                full = len(batch) == READ_BATCH
                self._head = batch[-1].position if full else max(head, self._head)
                self._recent.extend(batch)
                while len(self._recent) > KEEP:
                    self._floor = self._recent.popleft().position
                woken = self._waiters.concerned(batch)
            for waiter in woken:
                self._waiters.remove(waiter)
        if woken:
            self._foreground.busy_for()  # their answers: the background threads wait for them
        resolve_all(woken)
        return full

    # --- reading -----------------------------------------------------------------------------

    def recent(
        self, after: int, upto: int, *, kinds: Iterable[str] | None = None, limit: int | None = None
    ) -> tuple[list[events.Event], int] | None:
        """The chat events in (``after``, ``upto``] (of ``kinds``; at most ``limit``) from the
        hub's copy, and the position the answer is complete up to (``upto``, or the last event
        when cut at ``limit``); None when the copy does not hold that whole range (read the
        database). ``upto`` is the head the caller's own transaction read, so that every event
        given is one whose rows that transaction sees."""
        wanted = frozenset(kinds) if kinds is not None else None
        with self._lock:
            if self._floor is None or not self._floor <= after <= upto <= self._head:
                return None
            found: list[events.Event] = []
            for event in reversed(self._recent):
                if event.position <= after:
                    break
                if event.position <= upto and (wanted is None or event.kind in wanted):
                    found.append(event)
        found.reverse()
        if limit is not None and len(found) > limit:
            return found[:limit], found[limit - 1].position
        return found, upto

    def remember(self, user_id: int, position: int, rooms: frozenset[int]) -> None:
        """The rooms a sync of the user found the user in, with the position it read up to
        (for ``quiet``)."""
        with self._lock:
            self._rooms_of.pop(user_id, None)
            self._rooms_of[user_id] = (position, rooms)
            while len(self._rooms_of) > REMEMBERED:
                self._rooms_of.popitem(last=False)

    def quiet(self, user_id: int, after: int, upto: int, serial: int) -> frozenset[int] | None:
        """The rooms to wait on when the hub's copy shows that nothing in (``after``, ``upto``]
        concerns the user (no event in the rooms a sync last found them in, no membership event
        about them since that sync, no typing change in those rooms since ``serial``); None when
        it cannot say so (a sync must read). Saves a new long-poll's first read when its client
        has just been answered."""
        with self._lock:
            known = self._rooms_of.get(user_id)
            if known is None or self._floor is None:
                return None
            seen_at, rooms = known
            if not self._floor <= seen_at <= after <= upto <= self._head:
                return None
            if self._typing_changed(serial, rooms):
                return None
            for event in reversed(self._recent):
                if event.position <= seen_at:
                    break
                if event.position > upto:
                    continue
                if about_user(event) == user_id:
                    return None
                if event.position > after and room_of(event) in rooms:
                    return None
            return rooms

    def shared(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, computed once for every sync asking with the same ``key`` while it is
        among the last ``SHARED`` (the rows one message brings to each member's sync). The value
        must never be changed by its users; the key must say everything it depends on."""
        with self._lock:
            found = self._shared.get(key)
            if found is None:
                found = self._shared[key] = _Shared()
                while len(self._shared) > SHARED:
                    self._shared.popitem(last=False)
                mine = True
            else:
                mine = False
        if not mine:
            found.ready.wait(SHARED_WAIT)
            if found.ready.is_set() and found.failed is False:
                return cast(T, found.value)
            return make()  # the one computing it failed or is slow: compute it here
        try:
            value = make()
            found.value = value
            found.failed = False
            return value
        except BaseException:
            with self._lock:
                self._shared.pop(key, None)
            raise
        finally:
            found.ready.set()

    # --- waiting -----------------------------------------------------------------------------

    async def wait_beyond(
        self,
        position: int,
        timeout: float,
        *,
        rooms: Iterable[int] | None = None,
        user_id: int | None = None,
        serial: int | None = None,
    ) -> bool:
        """Wait until a chat event after ``position`` concerns the waiter (one in ``rooms``, or a
        membership event about ``user_id``; any event when ``rooms`` is None), a typing change
        in ``rooms`` passes ``serial`` (when given), or ``timeout`` seconds pass; whether woken."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = Waiter(
            loop, future, position, frozenset(rooms) if rooms is not None else None, user_id, serial
        )
        with self._lock:
            if self._released or self._typing_changed(waiter.serial, waiter.rooms):
                return True
            if self._head > position:
                if self._floor is None or position < self._floor:
                    return True  # the copy does not say what happened since: look
                for event in reversed(self._recent):
                    if event.position <= position:
                        break
                    if waiter.concerned(event):
                        return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def _typing_changed(self, serial: int | None, rooms: frozenset[int] | None) -> bool:
        if serial is None or self.typing_board.serial <= serial:
            return False
        if rooms is None:
            return True
        return any(self.typing_board.changed(r, serial) for r in rooms)

    # --- typing ------------------------------------------------------------------------------

    def set_typing(self, room_id: int, user_id: int, typing: bool, timeout_ms: int) -> None:
        """Record a typing notice and wake the room's waiters that follow typing."""
        self.typing_board.set(room_id, user_id, typing, timeout_ms)
        with self._lock:
            woken = {w for w in self._waiters.of_room(room_id) if w.serial is not None}
            for waiter in woken:
                self._waiters.remove(waiter)
        if woken:
            self._foreground.busy_for()
        resolve_all(woken)

    def typing(self, room_id: int) -> list[int]:
        return self.typing_board.typing(room_id)

    def typing_changed(self, room_id: int, since_serial: int) -> bool:
        return self.typing_board.changed(room_id, since_serial)


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


def release_hub(state: object) -> None:
    """:meth:`Hub.release` of the hub on ``state``, if one was started (a signal handler's call:
    it only takes the hub's lock and schedules wake-ups on the waiters' loops)."""
    hub = getattr(state, "chat_hub", None)
    if isinstance(hub, Hub):
        hub.release()
