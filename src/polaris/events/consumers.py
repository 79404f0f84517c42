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
from polaris.db.group_commit import require_open, shared_transaction
from polaris.db.uow import unit_of_work
from polaris.events import repo, service
from polaris.events.service import Event

log = logging.getLogger("polaris.events")
#: The longest range of the stream a shared pass reads once for every consumer
#: (``repo.events_between``); over a longer one each consumer reads its own kinds.
SHARED_RANGE = 2_000

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
            root = session.get_transaction()
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
                # A handler that rolled the session back must not have its cursor moved in
                # the transaction SQLAlchemy would begin by itself: its events were not handled.
                require_open(session, root)
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
    #: Consumers whose last batch failed (its error is on the cursor): they run alone until a
    #: batch succeeds, so that a broken one does not undo the others' shared pass every time.
    failing: frozenset[str]


def _glance(sessions: sessionmaker[Session]) -> _Glance:
    """Where the stream stands, read without a write transaction: an idle pass (every poll, and
    after every commit in this process) then takes no write lock, which SQLite has one of."""
    with sessions() as session:
        session.connection(execution_options={READ_ONLY_OPTION: True})
        unsequenced, head = repo.pending_and_head(session)
        cursors, failing = repo.cursor_glance(session)
        return _Glance(unsequenced=unsequenced, head=head, cursors=cursors, failing=failing)


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
    many events were sequenced or handed over.

    The consumers that are behind run together in one write transaction (:func:`_together`);
    those it leaves (no cursor yet, far behind, failing of late, or all of them when that
    transaction rolled back) run alone, a transaction per batch."""
    progress = sequence_pending(sessions)
    glance = _glance(sessions)
    behind = [c for c in registered_consumers() if glance.cursors.get(c.name, -1) < glance.head]
    if not behind:
        return progress
    moved_together, alone = _together(sessions, behind, glance)
    progress += moved_together
    for chosen in alone:
        # Batches until the cursor reaches the head the glance saw (a batch that reaches it needs
        # no second, empty, write transaction to find nothing more); later events, next pass.
        while True:
            moved, position = _batch(sessions, chosen, raise_errors=raise_errors)
            progress += moved
            if moved == 0 or position >= glance.head:
                break
    return progress


def _together(
    sessions: sessionmaker[Session], behind: list[Consumer], glance: _Glance
) -> tuple[int, list[Consumer]]:
    """Bring the consumers that are behind up to the glance's head in one write transaction;
    how far their cursors moved, and the consumers left to run alone.

    An upload is two or three events that five consumers take (the drive's, the search
    index's, the scanner's, placements, the guard) and the others do not. A transaction per
    consumer was seven commits per upload behind SQLite's one writer lock, each a ``BEGIN
    IMMEDIATE``, a ``COMMIT`` and a WAL fsync, and the pass cost more CPU than the upload. Here a
    pass is one transaction: the cursors locked in name order in one statement (so two nodes
    doing this at once take turns, and no two lock them in different orders), for a consumer
    with nothing of its kinds up to the head only its cursor moved, for the others their
    events handed over (the range read once when it is short, each consumer given its kinds
    of it), then every moved cursor set in one statement.

    Without savepoints (``group_commit.shared_transaction``, as the group commit's common
    case): if a handler raises,
    or rolls back the session itself, or the commit fails, nothing of the transaction is kept
    and every consumer runs alone (``_batch``), where a failing one records its error and the
    others go on. What a handler did outside the database is done again then, as after any
    failed batch (the module docstring: such effects are idempotent).

    Left to run alone: a consumer seen for the first time (its batch creates its cursor), one
    more than a batch behind (its own batches, each its own transaction), one whose last batch
    failed (its error is on its cursor until a batch succeeds), and one whose cursor is gone
    since the glance.
    """
    head = glance.head
    shared = sorted(
        (c for c in behind if c.name in glance.cursors and c.name not in glance.failing),
        key=lambda c: c.name,
    )
    if not shared:
        return 0, behind
    try:
        with shared_transaction(sessions) as (session, check):
            moved, left = _shared_pass(session, check, shared, head)
    except Exception:  # a handler or the database: every consumer runs alone, as before
        log.info("the consumers' shared pass rolled back; each runs alone", exc_info=True)
        return 0, behind
    alone = {c.name for c in behind if c not in shared} | {c.name for c in left}
    return moved, [c for c in behind if c.name in alone]


def _shared_pass(
    session: Session, check: Callable[[], None], shared: list[Consumer], head: int
) -> tuple[int, list[Consumer]]:
    """:func:`_together`'s transaction: how far the cursors moved, and the consumers it left."""
    positions = repo.lock_cursors(session, [c.name for c in shared])
    lowest = min((p for p in positions.values() if p < head), default=head)
    # The range read once, each consumer handed its kinds of it, when it is short (an upload's
    # events, a message); else a look per consumer.
    events = (
        [Event.of(row) for row in repo.events_between(session, after=lowest, until=head)]
        if head - lowest <= SHARED_RANGE
        else None
    )
    moved, left, to_head = 0, [], []
    for chosen in shared:
        after = positions.get(chosen.name)
        if after is None or head - after > chosen.batch:
            left.append(chosen)  # gone since the glance, or far behind
            continue
        if after >= head:
            continue  # another node moved it meanwhile: never back
        mine = _events_for(session, chosen, after, head, events)
        if mine:
            chosen.handle(session, mine)
            check()
        to_head.append(chosen.name)
        moved += head - after
    repo.advance_cursors(session, to_head, position=head, now=utcnow())
    return moved, left


def _events_for(
    session: Session, chosen: Consumer, after: int, head: int, events: list[Event] | None
) -> list[Event]:
    """``chosen``'s events in (``after``, ``head``]: from the range read once, or read here.
    At most a batch: positions are whole numbers, and the caller keeps ``head - after`` within
    one."""
    kinds = chosen.kinds
    if events is not None:
        return [e for e in events if e.position > after and (kinds is None or e.kind in kinds)]
    rows = repo.events_after(
        session,
        after=after,
        limit=chosen.batch,
        kinds=sorted(kinds) if kinds is not None else None,
        until=head,
    )
    return [Event.of(row) for row in rows]


def drain(sessions: sessionmaker[Session], *, raise_errors: bool = True) -> int:
    """Run passes until nothing moves (for tests and ``polaris events drain``); events moved.
    A failing consumer's error is raised (after it is recorded) unless ``raise_errors`` is off."""
    total = 0
    while (moved := run_pass(sessions, raise_errors=raise_errors)) > 0:
        total += moved
    return total
