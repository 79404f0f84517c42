"""SQLite engine behaviour: writers take the lock up front; read-only work never holds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from polaris.db.engine import make_engine, make_read_session_factory, make_session_factory


def can_take_write_lock(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def test_write_sessions_lock_at_begin_and_read_sessions_do_not(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    writer = make_session_factory(engine)()
    writer.execute(text("SELECT 1"))  # begins the transaction
    assert not can_take_write_lock(path)
    writer.rollback()
    assert can_take_write_lock(path)
    reader = make_read_session_factory(engine)()
    assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    assert can_take_write_lock(path)
    reader.close()
    writer.close()
    engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    engine.dispose()


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        make_engine("mysql://localhost/x")


def test_concurrent_writers_queue_and_every_write_lands(tmp_path: Path) -> None:
    """Threads of one process queue on the writer gate (and processes on its lock file)."""
    import threading

    path = tmp_path / "gate.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (writer INTEGER, n INTEGER)"))
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for n in range(25):
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO t VALUES (:w, :n)"), {"w": writer, "n": n})
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 100
    assert (tmp_path / "gate.db-writer.lock").exists()
    engine.dispose()
