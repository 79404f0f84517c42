"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``POLARIS_TEST_PG_URL`` (default: the local server at 127.0.0.1:5432,
database ``test``); ``scripts/test.sh`` starts a throwaway server from Debian's packages when none
is reachable. Each test runs inside a transaction that is rolled back, so tests never see each
other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from polaris.db import make_engine
from polaris.db.migrate import upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE_BACKENDS = ["sqlite", "postgresql"]


def pg_url() -> str:
    return os.environ.get("POLARIS_TEST_PG_URL", DEFAULT_PG_URL)


def reset_postgresql(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


def fresh_engine(backend: str, directory: Path) -> Engine:
    """A migrated, empty database of the given kind."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'test.db'}")
    else:
        engine = make_engine(pg_url())
        reset_postgresql(engine)
    upgrade(engine)
    return engine


@pytest.fixture(scope="session", params=DATABASE_BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = fresh_engine(db_backend, tmp_path_factory.mktemp(f"db-{db_backend}"))
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back at the end of the test (commits become savepoints)."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
