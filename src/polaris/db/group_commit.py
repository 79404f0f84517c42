"""Group commit: the units of work of requests that arrive together, in one write transaction.

A write transaction needs SQLite's one writer lock, a ``BEGIN IMMEDIATE``, a ``COMMIT`` and a
WAL fsync. Requests whose writes are small and reach that point together would wait on the lock
in turn, each for its own fsync. Here their units of work run one after the other in one write
transaction instead and are made durable by one commit; each caller returns only once the
transaction holding its work has committed, so nothing is acknowledged that could still be lost.

Leader and followers, no thread of its own: the first caller to find no batch under way runs
every unit queued so far (its own among them) in its thread; callers arriving meanwhile queue and
wait, and when the batch is done the oldest of them leads the next one. A batch of one is an
ordinary :func:`polaris.db.uow.transaction`.

The units of a batch first run without savepoints (the common case: each was checked in a
read-only transaction just before). If one raises, or that commit fails, the transaction is
rolled back whole and the batch runs again, each unit in a savepoint of its own: a unit that
raises then fails alone, its savepoint rolled back (its rows and only its rows gone), the effects
it registered with :func:`polaris.db.uow.after_rollback` (the audit record of a denial) run in a
savepoint of their own, and its caller gets its exception; the other units commit. If that
transaction fails too (its commit, a broken connection, a unit that rolled back the whole
session rather than its savepoint, as ``audit.service.append`` does when the database refuses a
record), every unit of the batch is run again alone in a transaction of its own, so a unit is
never reported done unless its own commit succeeded. Errors reach the caller as
:func:`polaris.db.uow.transaction` raises them (a full disk as ``StorageFull``). A unit must
therefore be safe to run again after a rollback (what it did outside the database, such as
writing a manifest, is at worst left unreferenced for the collector), and what it returns
outlives the leader's session: plain values, or ORM objects used only for what they had loaded
(they are detached; the sessions do not expire on commit).

Three groups per instance, one implementation (``polaris.instance``): ``upload_commits``
records small uploads (node, version, manifest, events, audit record); ``audit_commits`` appends
the audit records that stand alone, such as a download's ``file.read``, which must be committed
before the first byte leaves (DESIGN §8) though the download writes nothing else;
``message_commits`` records the messages sent through the Matrix API (the timeline event, its
audit record and change event; ``matrix.room_calls.Call.together``), where 8 senders into one
room queued on the writer lock a commit each. They are kept apart on purpose. An upload's unit
writes and fsyncs its manifest inside the transaction (two fsyncs, 10 to 25 ms on the measured
disk, ``docs/performance.md``), so a download's record
queued with uploads would wait for all of theirs, where in its own group it waits at most for
the batch under way (the writer lock) and then for its INSERT and one WAL fsync. One shared queue
would save a single WAL fsync where the uploads of the batch already cost two fsyncs each. On
PostgreSQL, which has no single writer lock, the groups commit side by side. And an upload
refused at commit (a name taken meanwhile, no quota: not rare) sends its batch through the
savepoint rerun; the records of downloads stay out of it. Should the manifests' fsyncs leave the
transaction (a next step in ``docs/performance.md``), the first reason goes: measure one group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from polaris.db.uow import pop_after_rollback, storage_error, transaction

T = TypeVar("T")
Work = Callable[[Session], T]


class _Pending(Generic[T]):
    __slots__ = ("done", "error", "lead", "result", "wake", "work")

    def __init__(self, work: Work[T]) -> None:
        self.work = work
        self.wake = threading.Event()
        self.lead = False
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Runs units of work from many threads; those that arrive together share a commit."""

    def __init__(self, sessions: sessionmaker[Session], *, most: int = 64) -> None:
        self._sessions = sessions
        #: The most units in one transaction (the writer lock is held while they all run).
        self._most = most
        self._lock = threading.Lock()
        self._queue: list[_Pending[object]] = []
        self._leading = False
        #: Units per committed transaction, for tests and diagnostics (the last 100 batches).
        self.batch_sizes: list[int] = []

    def waiting(self) -> int:
        """How many units wait for the next transaction (for tests and diagnostics)."""
        with self._lock:
            return len(self._queue)

    def run(self, work: Work[T]) -> T:
        """Run ``work(session)`` in a write transaction; return its result once committed.

        Raises what ``work`` raised (after its rollback and its after-rollback effects), or what
        the commit of its transaction raised.
        """
        mine: _Pending[T] = _Pending(work)
        with self._lock:
            self._queue.append(mine)  # type: ignore[arg-type]
            if not self._leading:
                self._leading = mine.lead = True
        while not mine.done:
            if mine.lead:
                mine.lead = False
                self._lead()  # the queue holds this unit: it runs in this batch or the next
            else:
                mine.wake.wait()
                mine.wake.clear()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _lead(self) -> None:
        """Run queued units in one transaction, then hand the lead to the oldest one waiting."""
        with self._lock:
            batch, self._queue = self._queue[: self._most], self._queue[self._most :]
        try:
            self._commit(batch)
        except BaseException as error:  # not a unit's failure (those are kept per unit)
            for pending in batch:
                if not pending.done:
                    pending.error = pending.error or error
            raise
        finally:
            for pending in batch:
                pending.done = True
                pending.wake.set()
            with self._lock:
                self.batch_sizes = [*self.batch_sizes[-99:], len(batch)]
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Pending[object]]) -> None:
        if len(batch) == 1:
            self._alone(batch[0])
            return
        if self._together(batch):
            return
        session = self._sessions()
        try:
            with transaction(session):
                root = session.get_transaction()
                for pending in batch:
                    self._in_savepoint(session, pending)
                    require_open(session, root)
        except Exception:
            # The transaction failed as a whole: nothing of it is committed. Every unit again,
            # alone, so each answer is that of its own commit.
            for pending in batch:
                pending.error = pending.result = None
                self._alone(pending)
        finally:
            session.close()

    def _together(self, batch: list[_Pending[object]]) -> bool:
        """The common case, without savepoints: every unit in one transaction, committed.

        True when it committed. If a unit raises, or the commit fails, the whole transaction is
        rolled back (nothing of it kept, the effects registered for after a rollback dropped:
        the units run again) and False sends the batch the careful way, a savepoint a unit.
        Savepoints cost two statements and the ORM's nested-transaction bookkeeping a unit,
        for a failure that the read-only check before the transfer makes rare.
        """
        try:
            with shared_transaction(self._sessions) as (session, check):
                results = []
                for pending in batch:
                    results.append(pending.work(session))
                    check()
        except Exception:
            return False
        for pending, result in zip(batch, results, strict=True):
            pending.result = result
        return True

    def _alone(self, pending: _Pending[object]) -> None:
        session = self._sessions()
        try:
            with transaction(session):
                pending.result = pending.work(session)
        except Exception as error:
            pending.error = error
        finally:
            session.close()

    @staticmethod
    def _in_savepoint(session: Session, pending: _Pending[object]) -> None:
        pop_after_rollback(session)
        try:
            with session.begin_nested():
                pending.result = pending.work(session)
        except Exception as error:
            pending.error = storage_error(error)
            effects = pop_after_rollback(session)
            if effects:
                try:
                    with session.begin_nested():
                        for effect in effects:
                            effect(session)
                except Exception as effect_error:
                    pending.error = storage_error(effect_error)
            return
        pop_after_rollback(session)  # it succeeded: what it asked for on failure is moot


@contextmanager
def shared_transaction(
    sessions: sessionmaker[Session],
) -> Iterator[tuple[Session, Callable[[], None]]]:
    """One write transaction for several units of work, without savepoints (the common case of
    a group: here, and the change-stream consumers' shared pass, ``events.consumers``).

    Yields a new session in its transaction and ``check``, to call after each unit: it raises
    ``TransactionLost`` when that unit rolled the whole session back (:func:`require_open`).
    The effects units registered for after a rollback are dropped either way: on failure the
    caller runs the units again its careful way (and they register them again), on success
    they are moot. Raises what a unit, ``check`` or the commit raised; nothing of the
    transaction is kept then.
    """
    session = sessions()
    session.info[_KEPT] = []
    try:
        with transaction(session):
            root = session.get_transaction()
            try:
                yield session, lambda: require_open(session, root)
            finally:
                pop_after_rollback(session)
    finally:
        session.close()


#: Where a shared transaction's session holds what its units asked it to keep (:func:`keep`).
_KEPT = "polaris.group_commit.kept"


def keep(session: Session, loaded: object) -> None:
    """Hold ``loaded`` (an ORM object) for the later units of the shared transaction ``session``
    runs, if it is one (:func:`shared_transaction`); else nothing.

    The session's identity map holds its objects weakly: a room a send loaded was gone again
    when the next send of the batch asked for it, and read again, under the writer lock. The
    session is closed when its one transaction ends, so nothing kept outlives the snapshot it
    was read in."""
    kept = session.info.get(_KEPT)
    if kept is not None:
        kept.append(loaded)


class TransactionLost(Exception):
    """A unit rolled back the batch's whole transaction, not only its savepoint."""


def require_open(session: Session, root: SessionTransaction | None) -> None:
    """Raise unless ``root``, the transaction :func:`transaction` began, is still ``session``'s.

    A unit may roll its session back itself: ``audit.service.append`` does when the database
    refuses a record, so that no caller can commit an action without its record. In a batch that
    undoes the units before it too (their savepoints released into that transaction), and what
    ran after would land in a new transaction begun by autobegin: the batch is then run again,
    each unit alone, instead of reporting them committed.
    """
    if root is None or session.get_transaction() is not root or not root.is_active:
        raise TransactionLost("a unit rolled back the batch's transaction")
