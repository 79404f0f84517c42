"""The search engine of an instance, picked by ``settings.search.engine``.

Callers use :class:`SearchEngine` and the types beside it; which engine answers is configuration.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from polaris.config import Settings
from polaris.search.interface import (
    Highlight,
    SearchDocument,
    SearchEngine,
    SearchHit,
    SearchPage,
    SearchQuery,
    Visibility,
)
from polaris.search.postgres_engine import PostgresSearchEngine
from polaris.search.tantivy_engine import TantivySearchEngine

__all__ = [
    "Highlight",
    "SearchDocument",
    "SearchEngine",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "Visibility",
    "index_path",
    "open_search_engine",
]


class SearchConfigurationError(ValueError):
    """The search settings do not fit the instance (PostgreSQL search on SQLite, say)."""


def index_path(settings: Settings) -> Path:
    return settings.search.path or settings.data_dir / "search"


def open_search_engine(settings: Settings, engine: Engine) -> SearchEngine:
    """The configured engine; ``engine`` is the instance's database (PostgreSQL for its search).

    Open it once per process: the Tantivy engine keeps the index open and its writer lock is
    shared by the threads of the process through the returned object.
    """
    if settings.search.engine == "postgresql":
        if engine.dialect.name != "postgresql":
            raise SearchConfigurationError(
                "search.engine = 'postgresql' needs a PostgreSQL database_url"
            )
        return PostgresSearchEngine(engine)
    return TantivySearchEngine(
        index_path(settings), writer_heap_bytes=settings.search.writer_heap_mib * 1024 * 1024
    )
