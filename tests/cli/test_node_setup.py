"""``polaris init`` for a cluster: the first node and a node that joins (PostgreSQL, shared store).

The shared store here is a directory outside both data directories (as an NFS mount would be);
the S3 store is exercised with two real servers in ``tests/test_cluster.py``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from polaris.cli.main import app
from polaris.db.engine import make_engine
from polaris.storage.keys import MasterKey, master_key_to_base64
from tests.conftest import PG_SCHEMA, pg_url, reset_postgresql

NODES_SCHEMA = PG_SCHEMA + "_cli_nodes"

runner = CliRunner()


@pytest.fixture
def database() -> Iterator[str]:
    """An empty PostgreSQL schema of this run, dropped afterwards."""
    engine = make_engine(pg_url(NODES_SCHEMA))
    reset_postgresql(engine, NODES_SCHEMA)
    yield pg_url(NODES_SCHEMA)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {NODES_SCHEMA} CASCADE"))
    engine.dispose()


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return str(lines[0])


def cluster_args(database: str, tmp_path: Path) -> list[str]:
    return [
        "--database-url", database,
        "--storage", str(tmp_path / "shared-blobs"),
        "--master-key-file", str(tmp_path / "keys" / "master.key"),
        "--audit-key-file", str(tmp_path / "keys" / "audit-signing.key"),
    ]  # fmt: skip


@pytest.fixture
def first_node(database: str, tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir(mode=0o700)
    directory = tmp_path / "node-a"
    created = invoke(
        "init", str(directory), *cluster_args(database, tmp_path), "--admin", "admin",
        "--redis-url", "redis://127.0.0.1:6379/0",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return directory


def test_the_first_node_keeps_only_its_settings_and_chooses_postgresql_search(
    first_node: Path, database: str, tmp_path: Path
) -> None:
    assert sorted(p.name for p in first_node.iterdir()) == ["polaris.toml"]
    settings = tomllib.loads((first_node / "polaris.toml").read_text(encoding="utf-8"))
    assert settings["database_url"] == database
    assert settings["master_key_file"] == str(tmp_path / "keys" / "master.key")
    assert settings["audit_key_file"] == str(tmp_path / "keys" / "audit-signing.key")
    assert settings["storage"] == {"backend": "local", "path": str(tmp_path / "shared-blobs")}
    assert settings["search"] == {"engine": "postgresql"}
    assert settings["jobs"] == {"redis_url": "redis://127.0.0.1:6379/0"}
    assert "engine: postgresql" in invoke("search", "status", "-d", str(first_node)).output


def test_a_cluster_refuses_to_keep_its_keys_in_a_data_directory(
    database: str, tmp_path: Path
) -> None:
    directory = tmp_path / "node-a"
    result = invoke(
        "init", str(directory), "--database-url", database,
        "--storage", str(tmp_path / "shared-blobs"),
    )  # fmt: skip
    line = one_line(result)
    assert "the master key of a cluster must not live in the data directory" in line
    assert "--master-key-file PATH" in line and "POLARIS_MASTER_KEY" in line
    assert not directory.exists() and not (tmp_path / "shared-blobs").exists()


def test_a_node_joins_without_remaking_keys_schema_or_administrator(
    first_node: Path, database: str, tmp_path: Path
) -> None:
    keys = {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()}
    second = tmp_path / "node-b"

    joined = invoke("init", str(second), "--join", *cluster_args(database, tmp_path))

    assert joined.exit_code == 0, joined.output
    assert "joined the instance" in joined.output
    assert sorted(p.name for p in second.iterdir()) == ["polaris.toml"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "keys").iterdir()} == keys
    first_settings = (first_node / "polaris.toml").read_text(encoding="utf-8")
    assert (second / "polaris.toml").read_text(encoding="utf-8") == first_settings.replace(
        '\n[jobs]\nredis_url = "redis://127.0.0.1:6379/0"\n', ""
    )
    engine = make_engine(database)
    with engine.connect() as connection:
        people = connection.execute(text("SELECT username FROM user_account")).scalars().all()
    engine.dispose()
    assert people == ["admin"]
    assert "queued: 0" in invoke("jobs", "status", "-d", str(second)).output


def test_a_node_with_another_master_key_cannot_join_and_leaves_nothing(
    first_node: Path, database: str, tmp_path: Path
) -> None:
    second = tmp_path / "node-b"
    other = MasterKey.generate()

    result = invoke(
        "init", str(second), "--join", *cluster_args(database, tmp_path),
        env={"POLARIS_MASTER_KEY": master_key_to_base64(other)},
    )  # fmt: skip
    line = one_line(result)

    assert line.startswith("error: the master key does not match the blob store"), line
    assert other.key_id_hex in line
    assert not second.exists()


def test_joining_a_database_without_an_instance_says_where_to_make_one(
    database: str, tmp_path: Path
) -> None:
    (tmp_path / "keys").mkdir()
    for name in ("master.key", "audit-signing.key"):  # keys exist; the database is empty
        (tmp_path / "keys" / name).touch(mode=0o600)
    second = tmp_path / "node-b"
    line = one_line(invoke("init", str(second), "--join", *cluster_args(database, tmp_path)))
    assert "holds no Polaris instance to join" in line and "without --join" in line
    assert not second.exists()


def test_a_second_first_node_is_refused_pointing_at_join(
    first_node: Path, database: str, tmp_path: Path
) -> None:
    other_keys = tmp_path / "other"
    other_keys.mkdir()
    result = invoke(
        "init", str(tmp_path / "node-b"), "--database-url", database,
        "--storage", str(tmp_path / "shared-blobs"),
        "--master-key-file", str(other_keys / "master.key"),
        "--audit-key-file", str(other_keys / "audit-signing.key"),
    )  # fmt: skip
    line = one_line(result)
    assert "already holds a Polaris instance" in line and "polaris init --join" in line
    assert list(other_keys.iterdir()) == []


def test_a_storage_location_that_is_neither_a_directory_nor_s3_is_refused(tmp_path: Path) -> None:
    line = one_line(invoke("init", str(tmp_path / "node"), "--storage", "ftp://store/blobs"))
    assert line == (
        "error: --storage: storage location 'ftp://store/blobs': expected a directory or an "
        "s3:// URL; nothing was written"
    )
    assert not (tmp_path / "node").exists()
