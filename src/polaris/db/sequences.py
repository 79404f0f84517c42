"""Rows inserted with explicit ids, and the id sequences that must then follow them.

A recovery (``polaris recover``) keeps the lost database's ids for units, accounts, spaces and
nodes, so that what the blob store says about them (placement records name nodes by id) stays
true. SQLite gives a new row the highest id plus one whatever was inserted; PostgreSQL takes ids
from a sequence that explicit inserts do not move, so the next ordinary insert would collide.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session


def follow_explicit_ids(session: Session, tables: Iterable[str]) -> None:
    """On PostgreSQL, move each table's ``id`` sequence to the highest id (nothing elsewhere).

    ``tables`` are the code's own table names, never input: they are put into the statement.
    """
    names = list(tables)
    for table in names:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"not a table name: {table!r}")
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in names:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
        )
