"""Counting what a request asks of the database: SQL statements and transactions.

``counting(engine)`` listens on the engine (``before_cursor_execute`` and ``begin``) while its
block runs and tallies every statement sent through a cursor and every transaction begun, split
into write transactions (on SQLite ``BEGIN IMMEDIATE``, the database's one writer lock) and
read-only ones (``polaris.db.engine.READ_ONLY_OPTION``: a deferred ``BEGIN`` on SQLite, ``BEGIN
READ ONLY`` on PostgreSQL). The tests that pin these numbers (``tests/drive/test_statements.py``)
make the cost of a request part of the suite, so that it cannot creep back up unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from polaris.db.engine import READ_ONLY_OPTION

#: Statements the engine sends to open a transaction; not work of the request, counted apart.
TRANSACTION_STATEMENTS = ("BEGIN", "BEGIN IMMEDIATE")
WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


@dataclass
class Tally:
    statements: list[str] = field(default_factory=list)
    write_transactions: int = 0
    read_transactions: int = 0
    #: Statements (``BEGIN`` aside) sent inside write transactions: the time SQLite's one writer
    #: lock is held grows with them, and with it how far concurrent writers queue.
    write_statements: int = 0
    #: Statements that change data sent inside a read-only transaction: always a bug (on
    #: SQLite it would take the write lock late, and fail if another writer went first).
    writes_in_reads: list[str] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        """The statements but ``BEGIN``: what the work itself sent."""
        return [s for s in self.statements if s not in TRANSACTION_STATEMENTS]

    @property
    def count(self) -> int:
        return len(self.queries)

    def describe(self) -> str:
        """For a failing assertion: every statement, one a line."""
        lines = [
            f"{self.count} statements ({self.write_statements} in write transactions), "
            f"{self.write_transactions} write and {self.read_transactions} read-only "
            "transactions:",
            *(f"  {s[:160]}" for s in self.queries),
        ]
        return "\n".join(lines)


@contextmanager
def counting(engine: Engine) -> Iterator[Tally]:
    tally = Tally()

    def on_execute(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        flat = " ".join(statement.split())
        tally.statements.append(flat)
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION)
        if read_only and flat.split(" ", 1)[0].upper() in WRITE_VERBS:
            tally.writes_in_reads.append(flat)
        if not read_only and flat not in TRANSACTION_STATEMENTS:
            tally.write_statements += 1

    def on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            tally.read_transactions += 1
        else:
            tally.write_transactions += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield tally
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
