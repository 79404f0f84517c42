"""Units of work: read-only transactions, and the read-only transaction a request holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from polaris.db.engine import make_engine, make_session_factory
from polaris.db.uow import after_rollback, end_held, transaction
from tests.db.test_engine import can_take_write_lock
from tests.support.statements import counting


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "uow.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine, path
    engine.dispose()


def test_a_read_only_transaction_takes_no_write_lock(sqlite: tuple[Engine, Path]) -> None:
    engine, path = sqlite
    session = make_session_factory(engine)()
    with transaction(session, read_only=True):
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        assert can_take_write_lock(path)
    with transaction(session):
        session.execute(text("SELECT 1"))
        assert not can_take_write_lock(path)
    session.close()


def test_a_held_read_goes_on_in_the_next_read_and_ends_before_a_write(
    sqlite: tuple[Engine, Path],
) -> None:
    engine, path = sqlite
    session = make_session_factory(engine)()
    with counting(engine) as tally:
        with transaction(session, read_only=True, hold=True):
            session.execute(text("SELECT 1"))
        assert session.in_transaction()  # held
        with transaction(session, read_only=True):  # the same transaction
            session.execute(text("SELECT 2"))
        assert not session.in_transaction()
    assert (tally.read_transactions, tally.write_transactions) == (1, 0)
    with counting(engine) as tally:
        with transaction(session, read_only=True, hold=True):
            session.execute(text("SELECT 1"))
        with transaction(session):  # a write: the held read ends first
            session.execute(text("INSERT INTO t VALUES (1)"))
    assert (tally.read_transactions, tally.write_transactions) == (1, 1)
    assert tally.writes_in_reads == []
    with transaction(session, read_only=True, hold=True):
        session.execute(text("SELECT 1"))
    end_held(session)
    assert not session.in_transaction() and can_take_write_lock(path)
    session.close()


def test_only_a_read_is_held_and_nothing_nests(sqlite: tuple[Engine, Path]) -> None:
    engine, _ = sqlite
    session = make_session_factory(engine)()
    with pytest.raises(ValueError, match="read-only"), transaction(session, hold=True):
        pass
    session.begin()
    with pytest.raises(RuntimeError, match="already open"), transaction(session, read_only=True):
        pass
    session.rollback()
    session.close()


def test_a_refusal_in_a_held_read_is_recorded_in_a_write_transaction(
    sqlite: tuple[Engine, Path],
) -> None:
    """The denial audit of a read: the effect runs after the rollback, in a write transaction."""
    engine, _ = sqlite

    def record(later: Session) -> None:
        later.execute(text("INSERT INTO t VALUES (42)"))

    session = make_session_factory(engine)()
    with counting(engine) as tally, pytest.raises(LookupError):
        with transaction(session, read_only=True, hold=True):
            session.execute(text("SELECT 1"))
        with transaction(session, read_only=True):
            after_rollback(session, record)
            raise LookupError("denied")
    assert (tally.read_transactions, tally.write_transactions) == (1, 1)
    assert tally.writes_in_reads == []
    with transaction(session, read_only=True):
        assert session.execute(text("SELECT x FROM t")).scalars().all() == [42]
    session.close()
