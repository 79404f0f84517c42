"""Search tests: every engine test runs on Tantivy (in a temporary directory) and on PostgreSQL
(in a schema of this run's own, migrated like any database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from polaris.db import make_engine
from polaris.db.migrate import upgrade
from polaris.search.interface import SearchEngine
from polaris.search.postgres_engine import PostgresSearchEngine
from polaris.search.tantivy_engine import TantivySearchEngine
from tests.conftest import PG_SCHEMA, pg_url, reset_postgresql

ENGINES = ["tantivy", "postgresql"]
SEARCH_SCHEMA = f"{PG_SCHEMA}_search"


@pytest.fixture(scope="session")
def search_pg_engine() -> Iterator[Engine]:
    engine = make_engine(pg_url(SEARCH_SCHEMA))
    reset_postgresql(engine, SEARCH_SCHEMA)
    upgrade(engine)
    yield engine
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SEARCH_SCHEMA} CASCADE"))
    engine.dispose()


@pytest.fixture(params=ENGINES)
def search(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchEngine]:
    """An empty index of each engine."""
    engine: SearchEngine
    if request.param == "tantivy":
        engine = TantivySearchEngine(tmp_path / "search", writer_heap_bytes=16_000_000)
    else:
        engine = PostgresSearchEngine(request.getfixturevalue("search_pg_engine"))
        engine.clear()
    yield engine
    if request.param == "postgresql":
        engine.clear()
