"""The engine is chosen by configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from polaris.config import load_settings
from polaris.search.postgres_engine import PostgresSearchEngine
from polaris.search.service import (
    SearchConfigurationError,
    index_path,
    open_search_engine,
)
from polaris.search.tantivy_engine import TantivySearchEngine


def test_tantivy_is_the_default_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    engine = open_search_engine(settings, create_engine("sqlite://"))
    assert isinstance(engine, TantivySearchEngine)
    assert engine.path == tmp_path / "search" == index_path(settings)


def test_postgresql_search_needs_postgresql(tmp_path: Path, search_pg_engine: Engine) -> None:
    settings = load_settings(tmp_path, search={"engine": "postgresql"})
    with pytest.raises(SearchConfigurationError):
        open_search_engine(settings, create_engine("sqlite://"))
    assert isinstance(open_search_engine(settings, search_pg_engine), PostgresSearchEngine)


def test_the_environment_picks_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARIS_SEARCH__ENGINE", "postgresql")
    monkeypatch.setenv("POLARIS_SEARCH__PATH", str(tmp_path / "elsewhere"))
    settings = load_settings(tmp_path)
    assert settings.search.engine == "postgresql"
    assert index_path(settings) == tmp_path / "elsewhere"
