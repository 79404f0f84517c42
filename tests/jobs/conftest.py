"""Jobs tests: an instance over the test database, its work rolled back after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from polaris.instance import Instance
from tests.drive.conftest import make_instance


@pytest.fixture
def instance(engine: Engine, tmp_path: Path) -> Iterator[Instance]:
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield make_instance(connection, tmp_path)
    finally:
        outer.rollback()
        connection.close()
