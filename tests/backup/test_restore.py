"""``polaris restore`` and ``polaris backup drill`` against a real backup (a real Litestream, a
directory target): what can fail is a file that does not come back byte for byte, a restore that
writes over something, a key-less restore that half-starts, a drill that is not recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from polaris.backup import runner
from polaris.backup.drills import drills
from polaris.backup.state import state_dir
from polaris.config import Settings, load_settings
from polaris.drive.models import FileVersion
from polaris.instance import open_instance
from polaris.storage.refs import ContentRef
from tests.backup.test_runner import litestream_processes, report_of, wait_for
from tests.cli.test_cli import cmd, invoke
from tests.ingest.test_bulk import image


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    """A demo instance with a few imported files, backed up to ``tmp_path/backup``."""
    directory = tmp_path / "instance"
    assert invoke("init", str(directory), "--demo").exit_code == 0
    with (directory / "polaris.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[backup]\ntarget = "{tmp_path / "backup"}"\nblob_interval_seconds = 0.2\n')
    tree = tmp_path / "scans"
    image(tree / "1998" / "FIR 12-1998.pdf", "PDF", frames=2)
    image(tree / "photo.png", "PNG")
    image(tree / "2003" / "statement.jpg", "JPEG")
    args = ["import", str(tree), "--space", "unit:DST-BPL", "--as", "clerk.bpl"]
    result = cmd(directory, *args, "--summary", str(tmp_path / "summary.json"))
    assert result.exit_code == 0, result.output
    return directory


def digests(data_dir: Path) -> dict[int, str]:
    """Every file version's content, read through the blob store, by version id."""
    instance = open_instance(load_settings(data_dir))
    try:
        with instance.sessions() as session:
            versions = list(session.scalars(select(FileVersion)))
        found = {}
        for version in versions:
            digest = hashlib.sha256()
            for block in instance.blobs.open_stream(ContentRef.from_dict(version.content)):
                digest.update(block)
            assert digest.hexdigest() == version.sha256
            found[version.id] = digest.hexdigest()
        return found
    finally:
        instance.close()


@pytest.fixture
def backed_up(instance_dir: Path) -> Iterator[Settings]:
    """``polaris backup run`` in a thread until both parts are current."""
    settings = load_settings(instance_dir)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: runner.run(settings, stop=stop), daemon=True)
    thread.start()
    try:
        wait_for(lambda: report_of(settings).ok, "both parts to be caught up")
        yield settings
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert litestream_processes(state_dir(settings) / "litestream.yml") == []


def escrow_keys(data_dir: Path, tmp_path: Path) -> list[str]:
    escrow = tmp_path / "escrow"
    escrow.mkdir()
    for name in ("master.key", "audit-signing.key"):
        shutil.copyfile(data_dir / name, escrow / name)
    return [
        "--master-key-file",
        str(escrow / "master.key"),
        "--audit-key-file",
        str(escrow / "audit-signing.key"),
    ]


@pytest.mark.slow
def test_the_data_directory_lost_a_restore_brings_every_file_back(
    instance_dir: Path, tmp_path: Path
) -> None:
    before = digests(instance_dir)
    assert len(before) == 3
    keys = escrow_keys(instance_dir, tmp_path)
    status = cmd(instance_dir, "backup", "status")
    assert status.exit_code == 1
    assert "incomplete: escrow not confirmed" in " ".join(status.output.split())
    confirmed = cmd(instance_dir, "backup", "confirm-escrow", "--by", "SP Sharma")
    assert confirmed.exit_code == 0, confirmed.output
    settings = load_settings(instance_dir)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: runner.run(settings, stop=stop), daemon=True)
    thread.start()
    try:
        wait_for(lambda: report_of(settings).ok, "both parts to be caught up")
        status = cmd(instance_dir, "backup", "status")
        assert status.exit_code == 0, status.output
        assert "key escrow: confirmed by SP Sharma" in status.output
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()

    shutil.rmtree(instance_dir)  # the attack
    restored = tmp_path / "new-machine" / "polaris-data"
    result = invoke("restore", "--target", str(restored), "--from", str(tmp_path / "backup"), *keys)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "storage verify: ok" in output and "audit verify: ok" in output
    assert digests(restored) == before
    config = (restored / "polaris.toml").read_text(encoding="utf-8")
    assert str(instance_dir) not in config  # the new paths, not the lost ones
    # The restored instance verifies by the ordinary commands too.
    assert cmd(restored, "storage", "verify").exit_code == 0
    assert cmd(restored, "audit", "verify").exit_code == 0


@pytest.mark.slow
def test_a_drill_restores_verifies_and_records_rpo_and_rto(backed_up: Settings) -> None:
    result = cmd(backed_up.data_dir, "backup", "drill", "--sample", "2")
    assert result.exit_code == 0, result.output
    (drill,) = drills(state_dir(backed_up))
    assert drill.ok and drill.files_sampled == 2
    assert drill.rpo_seconds is not None and drill.rpo_seconds >= 0
    assert drill.rto_seconds > 0
    assert not list(state_dir(backed_up).glob("drill-*"))  # the scratch copy is gone
    status = cmd(backed_up.data_dir, "backup", "status")
    assert "last restore drill: ok" in status.output
    doctor = cmd(backed_up.data_dir, "doctor", "--json")
    findings = {f["id"]: f for f in json.loads(doctor.output)["findings"]}
    assert findings["backup.drill"]["severity"] == "ok"


def test_a_drill_that_cannot_restore_is_recorded_as_failed(instance_dir: Path) -> None:
    result = cmd(instance_dir, "backup", "drill")  # nothing was ever replicated
    assert result.exit_code == 1
    (drill,) = drills(state_dir(load_settings(instance_dir)))
    assert not drill.ok and "litestream restore" in drill.detail
    doctor = cmd(instance_dir, "doctor", "--json")
    findings = {f["id"]: f for f in json.loads(doctor.output)["findings"]}
    assert findings["backup.drill"]["severity"] == "critical"
    assert findings["backup.drill"]["value"].startswith("failed")


def test_restore_refuses_a_directory_that_is_not_empty(instance_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    keys = escrow_keys(instance_dir, tmp_path)
    config = ["--config", str(instance_dir / "polaris.toml")]
    result = cmd(instance_dir, "restore", "--target", str(target), *config, *keys)
    assert result.exit_code == 1
    assert "is not empty" in " ".join(result.output.split())
    assert [path.name for path in target.iterdir()] == ["keep.txt"]


def test_restore_refuses_without_the_escrowed_master_key(
    instance_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "restored"
    config = ["--config", str(instance_dir / "polaris.toml")]
    result = cmd(instance_dir, "restore", "--target", str(target), *config)
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "the backup holds no keys" in output and "--master-key-file" in output
    assert not target.exists()


def test_restore_refuses_a_backup_without_settings(tmp_path: Path) -> None:
    (tmp_path / "empty-backup").mkdir()
    result = invoke(
        "restore", "--target", str(tmp_path / "r"), "--from", str(tmp_path / "empty-backup")
    )
    assert result.exit_code == 1
    assert "no settings in the backup" in " ".join(result.output.split())


def test_restore_refuses_without_a_backup_to_restore_from(tmp_path: Path) -> None:
    result = invoke("restore", "--target", str(tmp_path / "r"), "--data-dir", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert "pass --from" in " ".join(result.output.split())
