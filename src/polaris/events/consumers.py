"""Consumers: code that reacts to the change stream, with a durable cursor each.

A consumer's handler gets a batch of events and runs in the same transaction that moves its cursor
past them, so its database effects (a queued job, an updated row) happen exactly once, whichever
node runs it and however often that node is killed. Effects outside the database (an index file,
a message to a phone) must be idempotent: a batch whose transaction failed is handed over again.

The cursor row is locked while a batch runs, so one node at a time runs a given consumer; the
others wait for the lock and then read on from where it stopped. A handler that raises leaves the
cursor where it was (the batch is retried at the next pass) and records the error on the cursor for
``polaris events status``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from polaris.clock import utcnow
from polaris.db.engine import READ_ONLY_OPTION
from polaris.db.uow import unit_of_work
from polaris.events import repo, service
from polaris.events.service import Event

log = logging.getLogger("polaris.events")
#: The longest range of the stream the idle cursors are checked in one grouped statement
#: (``repo.latest_by_kind`` reads every event of it); a longer one asks per consumer.
IDLE_RANGE = 2_000

Handler = Callable[[Session, Sequence[Event]], None]


@dataclass(frozen=True)
class Consumer:
    """``handle`` gets the events of ``kinds`` (all when ``None``), in position order.

    ``start`` says where a consumer seen for the first time begins: at the ``beginning`` of the
    kept stream (an index that must know everything) or at the head (``now``: a notifier that must
    not replay the past).
    """

    name: str
    handle: Handler
    kinds: frozenset[str] | None = None
    batch: int = 500
    start: Literal["beginning", "now"] = "beginning"


_CONSUMERS: dict[str, Consumer] = {}


def consumer(
    name: str,
    *,
    kinds: Sequence[str] | None = None,
    batch: int = 500,
    start: Literal["beginning", "now"] = "beginning",
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the consumer ``name``."""

    def register(handle: Handler) -> Handler:
        found = _CONSUMERS.get(name)
        if found is not None and found.handle is not handle:
            raise ValueError(f"a consumer named {name!r} is already registered")
        chosen = frozenset(kinds) if kinds is not None else None
        _CONSUMERS[name] = Consumer(name, handle, kinds=chosen, batch=batch, start=start)
        return handle

    return register


def registered_consumers() -> list[Consumer]:
    return [_CONSUMERS[name] for name in sorted(_CONSUMERS)]


def run_batch(
    sessions: sessionmaker[Session], chosen: Consumer, *, raise_errors: bool = False
) -> int:
    """Hand one batch to ``chosen`` and move its cursor past it; how many events it looked at
    (0 when it is caught up or its handler failed; with ``raise_errors`` a failure is raised
    after it is recorded)."""
    return _batch(sessions, chosen, raise_errors=raise_errors)[0]


def _batch(
    sessions: sessionmaker[Session], chosen: Consumer, *, raise_errors: bool
) -> tuple[int, int]:
    """:func:`run_batch`, with the position the cursor is at after it (-1 when not known)."""
    try:
        with unit_of_work(sessions) as session:
            after = _lock_cursor(session, chosen)
            until = repo.last_position_until(session, after=after, limit=chosen.batch)
            if until is None:
                return 0, after
            kinds = sorted(chosen.kinds) if chosen.kinds is not None else None
            rows = repo.events_after(
                session, after=after, limit=chosen.batch, kinds=kinds, until=until
            )
            if rows:
                chosen.handle(session, [Event.of(row) for row in rows])
            repo.advance_cursor(session, chosen.name, position=until, now=utcnow())
            return until - after, until
    except Exception as error:  # a failing consumer must not stop the runner or the others
        log.warning("event consumer %s failed: %r", chosen.name, error)
        _record_failure(sessions, chosen, f"{type(error).__name__}: {error}"[:2000])
        if raise_errors:
            raise
        return 0, -1


def _lock_cursor(session: Session, chosen: Consumer) -> int:
    start = 0 if chosen.start == "beginning" else repo.head_position(session)
    return repo.lock_or_create_cursor(session, chosen.name, start=start)


def _record_failure(sessions: sessionmaker[Session], chosen: Consumer, error: str) -> None:
    try:
        with unit_of_work(sessions) as session:
            _lock_cursor(session, chosen)  # a first batch that failed rolled its creation back
            repo.record_failure(session, chosen.name, error=error, now=utcnow())
    except Exception:
        log.exception("could not record the failure of event consumer %s", chosen.name)


@dataclass(frozen=True)
class _Glance:
    unsequenced: bool
    head: int
    cursors: dict[str, int]


def _glance(sessions: sessionmaker[Session]) -> _Glance:
    """Where the stream stands, read without a write transaction: an idle pass (every poll, and
    after every commit in this process) then takes no write lock, which SQLite has one of."""
    with sessions() as session:
        session.connection(execution_options={READ_ONLY_OPTION: True})
        unsequenced, head = repo.pending_and_head(session)
        return _Glance(unsequenced=unsequenced, head=head, cursors=repo.cursor_positions(session))


def pending_and_head(session: Session) -> tuple[bool, int]:
    """Whether a committed event waits for its position, and the head position, in one statement
    of the caller's transaction (a request that must see what committed before it checks this
    with its other reads, and calls :func:`sequence_pending` only when it is so)."""
    return repo.pending_and_head(session)


def sequence_pending(sessions: sessionmaker[Session]) -> int:
    """Sequence every committed event waiting for a position; how many."""
    if not _glance(sessions).unsequenced:
        return 0
    total = 0
    while True:
        with unit_of_work(sessions) as session:
            count = service.sequence(session)
        total += count
        if count < service.SEQUENCE_BATCH:
            return total


def run_pass(sessions: sessionmaker[Session], *, raise_errors: bool = False) -> int:
    """Sequence, then run every registered consumer that is behind until it is caught up; how
    many events were sequenced or handed over."""
    progress = sequence_pending(sessions)
    glance = _glance(sessions)
    behind = [c for c in registered_consumers() if glance.cursors.get(c.name, -1) < glance.head]
    moved_idle, busy = _advance_idle(sessions, behind, glance)
    progress += moved_idle
    for chosen in busy:
        # Batches until the cursor reaches the head the glance saw (a batch that reaches it needs
        # no second, empty, write transaction to find nothing more); later events, next pass.
        while True:
            moved, position = _batch(sessions, chosen, raise_errors=raise_errors)
            progress += moved
            if moved == 0 or position >= glance.head:
                break
    return progress


def _advance_idle(
    sessions: sessionmaker[Session], behind: list[Consumer], glance: _Glance
) -> tuple[int, list[Consumer]]:
    """Move the cursors of the consumers that have nothing to handle up to the head in one
    write transaction, rather than one each; how far they moved, and the consumers left to
    run (with events of their kinds, every kind, or no cursor yet).

    A chat message is one event that most consumers do not take (the drive's, the search
    index's, the notifiers'): each used to cost a write transaction of its own to move its
    cursor past it, several commits per message behind SQLite's one writer lock. The cursors
    are locked in name order, so two nodes doing this at once take turns; a cursor another node
    moved meanwhile is left where it is (never moved back). Three statements whatever the number
    of consumers (their cursors, the last position of each kind since the lowest, the move):
    building and running three statements per consumer cost more CPU than the rest of the pass.
    """
    idle = [c for c in behind if c.kinds is not None and c.name in glance.cursors]
    busy = [c for c in behind if c not in idle]
    if not idle:
        return 0, busy
    idle.sort(key=lambda c: c.name)
    head = glance.head
    moved = 0
    try:
        with unit_of_work(sessions) as session:
            positions = repo.lock_cursors(session, [c.name for c in idle])
            lowest = min((p for p in positions.values() if p < head), default=head)
            # Every idle cursor's question (anything of my kinds up to the head?) in one
            # statement when the range is short (a message or a few); else one each.
            latest = (
                repo.latest_by_kind(session, after=lowest, until=head)
                if head - lowest <= IDLE_RANGE
                else None
            )
            move: list[str] = []
            for chosen in idle:
                after = positions.get(chosen.name)
                if after is None:  # gone since the glance: created again by its own batch
                    busy.append(chosen)
                    continue
                if after >= head:
                    continue
                kinds = sorted(chosen.kinds or ())
                if latest is not None:
                    waiting = any(latest.get(kind, 0) > after for kind in kinds)
                else:
                    waiting = bool(
                        repo.events_after(session, after=after, limit=1, kinds=kinds, until=head)
                    )
                if waiting:
                    busy.append(chosen)
                    continue
                move.append(chosen.name)
                moved += head - after
            repo.advance_cursors(session, move, position=head, now=utcnow())
    except Exception:  # a database hiccup: each consumer runs its own batch, as before
        log.warning("could not move the idle event cursors together", exc_info=True)
        return 0, behind
    order = {c.name: n for n, c in enumerate(behind)}
    return moved, sorted(busy, key=lambda c: order[c.name])


def drain(sessions: sessionmaker[Session], *, raise_errors: bool = True) -> int:
    """Run passes until nothing moves (for tests and ``polaris events drain``); events moved.
    A failing consumer's error is raised (after it is recorded) unless ``raise_errors`` is off."""
    total = 0
    while (moved := run_pass(sessions, raise_errors=raise_errors)) > 0:
        total += moved
    return total
