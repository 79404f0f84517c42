"""A node whose keys or search engine do not fit the shared instance is refused before it starts.

Every command opens the instance the same way (``open_instance``), so ``serve``, ``worker`` and
any other command refuse alike, in one line that names the key and both ids.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from polaris.audit.keys import AuditSigner, load_key_file
from polaris.cli.main import app
from polaris.config import load_settings
from polaris.instance import open_instance
from polaris.storage.keys import MasterKey, load_master_key_file, master_key_to_base64
from polaris.storage.rotation import rotate_master_key
from tests.conftest import pg_url

runner = CliRunner()

#: A command of each kind: one that serves, one that runs jobs, one that administers.
COMMANDS = [["serve", "--port", "0"], ["worker", "--drain"], ["jobs", "status"]]


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    """A new instance with its first administrator (so that the audit log has records)."""
    directory = tmp_path / "instance"
    result = runner.invoke(app, ["init", str(directory), "--admin", "admin"])
    assert result.exit_code == 0, result.output
    return directory


def refusal(directory: Path, command: list[str], env: dict[str, str]) -> str:
    """The one line a refused command prints (exit status 1)."""
    result = runner.invoke(app, [*command, "--data-dir", str(directory)], env=env)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def succeeds(directory: Path, command: list[str], env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, [*command, "--data-dir", str(directory)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_node_with_another_master_key_is_refused_naming_both_ids(
    instance_dir: Path, command: list[str]
) -> None:
    stores = load_master_key_file(instance_dir / "master.key").current.key_id_hex
    other = MasterKey.generate()

    line = refusal(instance_dir, command, {"POLARIS_MASTER_KEY": master_key_to_base64(other)})

    assert line.startswith("error: the master key does not match the blob store"), line
    assert f"this node holds master key {other.key_id_hex} (POLARIS_MASTER_KEY)" in line
    assert f"keyed with master key {stores}" in line


def test_a_node_without_the_rotated_master_key_is_refused_naming_the_data_key(
    instance_dir: Path, tmp_path: Path
) -> None:
    old_copy = tmp_path / "old-master.key"  # what a node not yet given the new key file holds
    shutil.copy2(instance_dir / "master.key", old_copy)
    instance = open_instance(load_settings(instance_dir))
    new_key = rotate_master_key(instance.blobs, instance_dir / "master.key")
    assert instance.blobs.rotate_data_key() == 2  # wrapped under the new master key only
    instance.close()
    old_id = load_master_key_file(old_copy).current.key_id_hex

    line = refusal(instance_dir, ["jobs", "status"], {"POLARIS_MASTER_KEY_FILE": str(old_copy)})

    assert line.startswith("error: the master key cannot open data key 2 of the blob store"), line
    assert f"wrapped under master key {new_key.key_id_hex} only" in line
    assert f"this node holds {old_id} (master_key_file {old_copy})" in line
    succeeds(instance_dir, ["jobs", "status"])  # the node with the rotated file starts


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_node_with_another_audit_signing_key_is_refused_naming_both_ids(
    instance_dir: Path, command: list[str]
) -> None:
    succeeds(instance_dir, ["audit", "seal"])  # the first checkpoint, signed by the instance
    signed_by = load_key_file(instance_dir / "audit-signing.key").key_id
    raw = os.urandom(32)
    other_id = AuditSigner(Ed25519PrivateKey.from_private_bytes(raw)).key_id

    line = refusal(instance_dir, command, {"POLARIS_AUDIT_KEY": base64.b64encode(raw).decode()})

    assert line.startswith("error: the audit signing key does not match the database"), line
    assert f"this node's key is {other_id} (POLARIS_AUDIT_KEY)" in line
    assert f"is signed by {signed_by}" in line


def test_the_instances_own_audit_key_from_the_environment_is_accepted(instance_dir: Path) -> None:
    succeeds(instance_dir, ["audit", "seal"])
    pem = (instance_dir / "audit-signing.key").read_text(encoding="ascii")
    (instance_dir / "audit-signing.key").unlink()  # the environment alone must do

    assert "queued: 0" in succeeds(instance_dir, ["jobs", "status"], {"POLARIS_AUDIT_KEY": pem})


def test_a_node_whose_keys_come_from_the_environment_writes_no_key_file(tmp_path: Path) -> None:
    directory = tmp_path / "instance"
    keys = {
        "POLARIS_MASTER_KEY": master_key_to_base64(MasterKey.generate()),
        "POLARIS_AUDIT_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    created = runner.invoke(app, ["init", str(directory), "--admin", "admin"], env=keys)
    assert created.exit_code == 0, created.output
    assert not any(p.name.endswith(".key") for p in directory.iterdir())

    succeeds(directory, ["audit", "seal"], keys)
    assert "queued: 0" in succeeds(directory, ["jobs", "status"], keys)
    line = refusal(directory, ["jobs", "status"], {})  # no key given at all
    assert "master key file" in line and "does not exist" in line


def test_a_node_local_search_index_on_postgresql_is_refused(instance_dir: Path) -> None:
    # The check needs no connection: which engine answers follows from the settings alone.
    line = refusal(instance_dir, ["serve", "--port", "0"], {"POLARIS_DATABASE_URL": pg_url()})
    assert line.startswith("error: search.engine = 'tantivy' keeps the index in this node's"), line
    assert 'set search.engine = "postgresql"' in line and "polaris search reindex" in line


def test_postgresql_search_on_sqlite_is_refused(instance_dir: Path) -> None:
    line = refusal(instance_dir, ["jobs", "status"], {"POLARIS_SEARCH__ENGINE": "postgresql"})
    assert "search.engine = 'postgresql' needs a PostgreSQL database_url, not sqlite" in line
