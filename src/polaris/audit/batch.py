"""Group commit for audit records that stand alone: many requests, one write transaction.

A download writes nothing but its ``file.read`` record, yet that record must be committed before
the first byte leaves (DESIGN §8). One write transaction per download made every download queue
for SQLite's one writer lock and wait for its own WAL fsync. Here the records of downloads that
arrive together are inserted in one transaction and made durable by one commit; each caller
returns only once the transaction holding its record has committed, so nothing is sent on a
record that could still be lost.

Leader and followers, no thread of its own: the first caller to find no batch under way commits
every record queued so far (its own among them); callers arriving meanwhile queue and wait, and
when the batch is done the oldest of them leads the next one. A batch that fails is retried one
record a transaction, so one record the database refuses fails only its own request.

Only for records with nothing to commit beside them: an action that writes must append its
record in its own transaction (``audit.service.append``), so that both commit or neither does.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service
from polaris.db.uow import transaction


class _Pending:
    __slots__ = ("error", "fields", "lead", "wake", "written")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.wake = threading.Event()
        self.lead = False
        self.written = False
        self.error: BaseException | None = None


class AuditBatch:
    """Appends records from many threads, a shared transaction for those that arrive together."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def waiting(self) -> int:
        """How many records wait for the next transaction (for tests and diagnostics)."""
        with self._lock:
            return len(self._queue)

    def append(self, **fields: Any) -> None:
        """As ``audit.service.append`` (same keywords but ``session``), committed on return.

        Raises what ``append`` raises for this record (``AuditUnavailable``, ``ValueError``).
        """
        mine = _Pending(fields)
        with self._lock:
            self._queue.append(mine)
            if not self._leading:
                self._leading = mine.lead = True
        while not mine.written:
            if mine.lead:
                self._lead()  # the queue holds this record: it is written in this batch
            else:
                mine.wake.wait()
                mine.wake.clear()
        if mine.error is not None:
            raise mine.error

    def _lead(self) -> None:
        """Commit every queued record, then hand the lead to the oldest caller still waiting."""
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        except BaseException as error:  # not a database refusal (those are kept per record)
            for pending in batch:
                pending.error = pending.error or error
            raise
        finally:
            for pending in batch:
                pending.written = True
                pending.wake.set()
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._in_transaction(functools.partial(self._insert_all, batch=batch))
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
                return
            for pending in batch:  # one at a time: a refused record fails only its request
                try:
                    self._in_transaction(functools.partial(self._insert, pending=pending))
                except Exception as single:
                    pending.error = single

    def _in_transaction(self, work: Callable[[Session], object]) -> None:
        session = self._sessions()
        try:
            with transaction(session):
                work(session)
        finally:
            session.close()

    @staticmethod
    def _insert(session: Session, *, pending: _Pending) -> None:
        service.append(session=session, **pending.fields)

    @staticmethod
    def _insert_all(session: Session, *, batch: list[_Pending]) -> None:
        for pending in batch:
            service.append(session=session, **pending.fields)
