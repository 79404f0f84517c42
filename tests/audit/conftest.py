"""Audit fixtures: ``engine`` migrated like the shared one, but in a PostgreSQL schema of its own.

``engine`` overrides the one in ``tests/conftest.py`` only in where it puts the tables: the
Alembic migrations run as there, but on PostgreSQL into a private schema (``search_path``), so
the audit tests, which commit and empty the audit tables, neither disturb nor are disturbed by
another suite resetting ``public`` on the same server. ``db_session`` is the shared fixture.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from polaris import clock
from polaris.audit.models import AuditCheckpoint, AuditHead, AuditRecord
from polaris.db import make_engine, make_session_factory
from polaris.db.migrate import upgrade
from tests.conftest import pg_url

AUDIT_TABLES = [cast(Table, model.__table__) for model in (AuditRecord, AuditHead, AuditCheckpoint)]

# A table of the "caller's own work", to show it shares the audit record's fate.
scratch_metadata = MetaData()
widget = Table(
    "audit_test_widget",
    scratch_metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
)


def _schema_engine(schema: str) -> Engine:
    url = make_url(pg_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    return make_engine(url.render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def engine(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if db_backend == "sqlite":
        directory: Path = tmp_path_factory.mktemp("audit-sqlite")
        engine = make_engine(f"sqlite:///{directory / 'audit.db'}")
        yield from _with_tables(engine)
        return
    schema = f"audit_test_{os.getpid()}"
    admin = make_engine(pg_url())
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield from _with_tables(_schema_engine(schema))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _with_tables(engine: Engine) -> Iterator[Engine]:
    upgrade(engine)
    scratch_metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def clear_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in [widget, *AUDIT_TABLES]:
            connection.execute(delete(table))


@pytest.fixture
def committing(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory for tests that really commit; the tables are emptied afterwards."""
    clear_tables(engine)
    try:
        yield make_session_factory(engine)
    finally:
        clear_tables(engine)


CLOCK_START = dt.datetime(2025, 3, 1, 8, 0, 0, 250_001, tzinfo=dt.UTC)


@pytest.fixture
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dt.datetime]]:
    """``clock.utcnow`` gives CLOCK_START, then one minute later each call; the list holds them."""
    given: list[dt.datetime] = []

    def now() -> dt.datetime:
        given.append(CLOCK_START + dt.timedelta(minutes=len(given)))
        return given[-1]

    monkeypatch.setattr(clock, "utcnow", now)
    yield given
