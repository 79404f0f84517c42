"""Group commit of units of work (``polaris.db.group_commit``): committed on return, one write
transaction for the units that arrive together, a refused unit failing alone (its rows gone, its
after-rollback effects kept), and a failed commit retried unit by unit."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from polaris.db import group_commit
from polaris.db.engine import make_engine, make_session_factory
from polaris.db.group_commit import GroupCommit, shared_transaction
from polaris.db.uow import after_rollback
from tests.db.holding import run_as_one_batch

METADATA = MetaData()
UNITS = Table(
    "units",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
)
DENIALS = Table(
    "denials", METADATA, Column("id", Integer, primary_key=True), Column("name", String)
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'units.db'}")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def names(engine: Engine, table: Table = UNITS) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(table.c.name)))


def add(name: str, *, refuse: bool = False) -> Callable[[Session], str]:
    """A unit that inserts ``name``; ``refuse``: then audits a denial and raises (as a refused
    upload does, through ``after_rollback``)."""

    def work(session: Session) -> str:
        session.execute(insert(UNITS).values(name=name))
        if refuse:
            after_rollback(session, lambda s: s.execute(insert(DENIALS).values(name=name)))
            raise PermissionError(name)
        return name.upper()

    return work


def test_each_unit_is_committed_on_return(engine: Engine, sessions: sessionmaker[Session]) -> None:
    group = GroupCommit(sessions)
    seen: list[int] = []

    def upload(number: int) -> str:
        result = group.run(add(f"f{number}"))
        seen.append(len(names(engine)))  # a fresh connection sees it already
        return result

    with ThreadPoolExecutor(6) as pool:
        results = [f.result() for f in [pool.submit(upload, n) for n in range(30)]]
    assert results == [f"F{n}" for n in range(30)]
    assert len(names(engine)) == 30
    assert min(seen) >= 1


def test_units_that_arrive_together_share_one_transaction(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    group = GroupCommit(sessions)
    units = [add(f"f{n}") for n in range(5)]
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    futures, begun = run_as_one_batch(engine, group, units)
    assert [f.result() for f in futures] == [f"F{n}" for n in range(5)]
    event.remove(engine, "before_cursor_execute", on_execute)
    assert names(engine) == [f"f{n}" for n in range(5)]
    assert len(begun) == 2  # the leader's unit, then every follower's at once
    assert group.batch_sizes[-2:] == [1, 4]
    assert not [s for s in statements if "SAVEPOINT" in s]  # none failed: no savepoints


def test_a_refused_unit_fails_alone_and_keeps_its_denial(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    group = GroupCommit(sessions)
    units = [add("f0"), add("f1"), add("f2", refuse=True), add("f3")]
    futures, begun = run_as_one_batch(engine, group, units)
    outcomes = [f.exception() for f in futures]
    assert isinstance(outcomes[2], PermissionError)
    assert [o for n, o in enumerate(outcomes) if n != 2] == [None] * 3
    assert names(engine) == ["f0", "f1", "f3"]  # the refused unit's row rolled back alone
    assert names(engine, DENIALS) == ["f2"]  # its denial recorded once, committed with the batch
    assert len(begun) == 3  # the leader; the followers together, rolled back; then in savepoints
    assert group.waiting() == 0


def test_a_unit_refused_by_the_database_fails_alone(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Two uploads of one name in one batch: the second breaks the unique index and fails; the
    first lands."""
    group = GroupCommit(sessions)
    units = [add("lead"), add("same"), add("same"), add("other")]
    futures, _begun = run_as_one_batch(engine, group, units)
    outcomes = [f.exception() for f in futures]
    assert isinstance(outcomes[2], IntegrityError)
    assert [outcomes[0], outcomes[1], outcomes[3]] == [None, None, None]
    assert names(engine) == ["lead", "other", "same"]


def test_a_failed_commit_runs_every_unit_again_alone(
    engine: Engine, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared transaction's commit fails: none of it is kept, and each unit is answered by
    a commit of its own."""
    group = GroupCommit(sessions)
    commits: list[int] = []
    failed: list[int] = []
    real_commit = Session.commit

    def commit_once_failing(session: Session) -> None:
        commits.append(1)
        if len(commits) in (2, 3):  # the followers together, then in savepoints
            failed.append(1)
            raise OSError("disk I/O error")
        real_commit(session)

    monkeypatch.setattr(Session, "commit", commit_once_failing)
    units = [add(f"f{n}") for n in range(4)]
    futures, begun = run_as_one_batch(engine, group, units)
    assert [f.result() for f in futures] == [f"F{n}" for n in range(4)]
    assert failed == [1, 1]
    assert names(engine) == [f"f{n}" for n in range(4)]
    assert len(begun) == 1 + 2 + 3  # the leader, the two failed batches, each follower alone


def test_an_error_reaches_a_lone_caller(engine: Engine, sessions: sessionmaker[Session]) -> None:
    group = GroupCommit(sessions)
    with pytest.raises(PermissionError):
        group.run(add("no", refuse=True))
    assert names(engine, DENIALS) == ["no"]  # the effect ran after the rollback
    assert group.run(add("yes")) == "YES"  # the group goes on
    assert names(engine) == ["yes"]


def add_then_roll_back(name: str) -> Callable[[Session], str]:
    """A unit refused by the database that rolls the whole session back before it raises, as
    ``audit.service.append`` does (``AuditUnavailable``): in a savepoint, that undoes the
    savepoints of the units before it as well."""

    def work(session: Session) -> str:
        session.execute(insert(UNITS).values(name=name))
        try:
            session.execute(insert(UNITS).values(name=None))  # NOT NULL
        except IntegrityError:
            session.rollback()
            raise
        return name.upper()

    return work


def test_a_unit_that_rolls_the_session_back_fails_alone(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """The units before it in the batch are not answered as committed on the strength of a
    transaction that rolled them back: the batch runs again, each unit alone."""
    group = GroupCommit(sessions)
    units = [add("lead"), add("f1"), add_then_roll_back("f2"), add("f3")]
    futures, _begun = run_as_one_batch(engine, group, units)
    outcomes = [f.exception() for f in futures]
    assert isinstance(outcomes[2], IntegrityError)
    assert [outcomes[0], outcomes[1], outcomes[3]] == [None, None, None]
    assert names(engine) == ["f1", "f3", "lead"]
    assert group.waiting() == 0


class _Kept(DeclarativeBase):
    metadata = METADATA


class _Unit(_Kept):
    __table__ = UNITS


def test_a_shared_transaction_keeps_what_a_unit_asks_for_the_later_units(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """``group_commit.keep``: the identity map holds objects weakly, so a row one unit loaded
    was read again by the next; kept, it is found without a statement until the session ends.
    Outside a shared transaction ``keep`` holds nothing."""
    with engine.begin() as connection:
        connection.execute(insert(UNITS).values(id=1, name="ps-a1"))
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with shared_transaction(sessions) as (session, _check):
        group_commit.keep(session, session.get(_Unit, 1))
        gc.collect()
        statements.clear()
        assert session.get(_Unit, 1) is not None
        assert statements == []
    alone = sessions()
    with alone.begin():
        group_commit.keep(alone, alone.get(_Unit, 1))
        gc.collect()
        statements.clear()
        assert alone.get(_Unit, 1) is not None
        assert len(statements) == 1  # not kept: read again
    alone.close()
