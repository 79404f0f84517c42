"""Shared fixtures: every database test runs on SQLite and on PostgreSQL (but the files marked
``sqlite_only``, whose subject is not the database: see ``pytest_collection_modifyitems``).

PostgreSQL comes from ``POLARIS_TEST_PG_URL`` (default: the local server at 127.0.0.1:5432,
database ``test``); ``scripts/test.sh`` starts a throwaway server from Debian's packages when none
is reachable. Each test run works in a schema of its own (``test_<pid>``, dropped at the end), so
two runs on one machine, such as CI's and a developer's, never reset each other's tables. Each
test runs inside a transaction that is rolled back, so tests never see each other.
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
from tests.support.shared_routes import share_route_builds

#: Fixtures any test may use: ``redis_url`` (a live Redis), ``seaweedfs`` and ``s3_settings``
#: (a real SeaweedFS for the S3 tests).
pytest_plugins = ["tests.support.clamd", "tests.support.redis_server", "tests.support.seaweedfs"]

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE_BACKENDS = ["sqlite", "postgresql"]


PG_SCHEMA = f"test_{os.getpid()}"

# Every test makes its own app; FastAPI's route building is shared between them
# (tests/support/shared_routes.py: most of a web test's CPU otherwise).
share_route_builds()


def pg_url(schema: str = PG_SCHEMA) -> str:
    """The test server's URL, with ``schema`` (this run's by default) on the search path."""
    base = os.environ.get("POLARIS_TEST_PG_URL", DEFAULT_PG_URL)
    separator = "&" if "?" in base else "?"
    # Commits do not wait for PostgreSQL's WAL flush: a test server's crash durability is not
    # under test here (the backup tests run clusters of their own), and the wait is most of a
    # small transaction's time on this machine's disk.
    return f"{base}{separator}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


def reset_postgresql(engine: Engine, schema: str = PG_SCHEMA) -> None:
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))


def drop_stale_schemas(engine: Engine) -> None:
    """Drop this run's schema and those left by runs that were killed (their pid is gone).

    Only the main schema of a live run: its other schemas (``test_<pid>_search`` and the like)
    belong to fixtures that may still be in use, since a session fixture of one database is torn
    down when the run moves on to the other, and those fixtures drop their own."""
    with engine.begin() as connection:
        names = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'test\\_%'")
        ).scalars()
        for name in list(names):
            pid = name.split("_")[1]
            if pid.isdigit() and (name == PG_SCHEMA or not _process_alive(int(pid))):
                connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fresh_engine(backend: str, directory: Path) -> Engine:
    """A migrated, empty database of the given kind."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'test.db'}")
    else:
        engine = make_engine(pg_url())
        reset_postgresql(engine)
    upgrade(engine)
    return engine


#: Set to run the files marked ``sqlite_only`` on PostgreSQL too (as before they were marked).
ALL_DATABASES = "POLARIS_TEST_ALL_DATABASES"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the PostgreSQL runs of tests marked ``sqlite_only``, then put files holding a
    slow test first (in their order, each file's tests still together): with the suite in two
    processes, the long files start early and the short ones fill in around them, instead of one
    long file running alone at the end (``scripts/test.sh`` keeps pytest-xdist from reordering
    files by their number of tests)."""
    if not os.environ.get(ALL_DATABASES):
        left_out = [item for item in items if _postgresql_run_of_sqlite_only(item)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            dropped = set(map(id, left_out))
            items[:] = [item for item in items if id(item) not in dropped]
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def _postgresql_run_of_sqlite_only(item: pytest.Item) -> bool:
    """A test of a ``sqlite_only`` file run with PostgreSQL as its database: the file's subject
    is not the database (pages, client protocols, a blob store), and the queries it reaches are
    tested on both databases in their own domain's tests. Any fixture parameter named
    ``postgresql`` counts (``db_backend`` and the files' own database fixtures)."""
    if item.get_closest_marker("sqlite_only") is None:
        return False
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in callspec.params.values()


@pytest.fixture(scope="session", params=DATABASE_BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = fresh_engine(db_backend, tmp_path_factory.mktemp(f"db-{db_backend}"))
    yield engine
    if db_backend == "postgresql":
        drop_stale_schemas(engine)
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
