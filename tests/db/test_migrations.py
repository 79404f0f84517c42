"""Migrations: they build exactly the models' schema, and they reverse cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from polaris.db.engine import make_engine
from polaris.db.migrate import downgrade, upgrade
from polaris.tables import metadata
from tests.conftest import DATABASE_BACKENDS, PG_SCHEMA, pg_url

#: Of this run (see tests/conftest.py), so that concurrent runs do not collide.
SCHEMA = PG_SCHEMA + "_migrations"


@pytest.fixture(params=DATABASE_BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (a separate schema on PostgreSQL)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    admin = make_engine(pg_url())
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    engine = make_engine(pg_url(SCHEMA))
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def test_migrations_match_the_models(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_migrations_reverse_and_reapply(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_engine)
    assert "user_account" in inspect(empty_engine).get_table_names()
