"""``polaris backup run`` on a real instance with a real Litestream and a directory target: the
database's changes reach the replica (a Litestream restore brings them back), new blob objects
reach the target, ``backup status`` reports both parts, and Litestream is gone after the stop."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polaris import clock
from polaris.backup import runner
from polaris.backup.litestream import find_litestream, sqlite_path
from polaris.backup.state import state_dir
from polaris.backup.status import BackupReport, backup_report
from polaris.config import Settings, load_settings
from polaris.storage import LocalBackend
from tests.cli.test_cli import cmd, invoke
from tests.live_server import wait_for


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "instance"
    result = invoke("init", str(directory))
    assert result.exit_code == 0, result.output
    with (directory / "polaris.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[backup]\ntarget = "{tmp_path / "backup"}"\nblob_interval_seconds = 0.2\n')
    return directory


def litestream_processes(config: Path) -> list[int]:
    """Processes whose command line names ``config`` (the Litestream this test started)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(config).encode() in cmdline and b"replicate" in cmdline:
            found.append(int(proc.name))
    return found


@pytest.fixture
def running(instance_dir: Path) -> Iterator[Settings]:
    settings = load_settings(instance_dir)
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runner.run(settings, stop=stop)
        except BaseException as error:  # shown by the test, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield settings
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert not errors, errors
    config = state_dir(settings) / "litestream.yml"
    assert litestream_processes(config) == []


def report_of(settings: Settings) -> BackupReport:
    return backup_report(settings, now=clock.utcnow())


def test_backup_run_replicates_the_database_and_the_blobs(
    running: Settings, tmp_path: Path
) -> None:
    settings = running
    config = state_dir(settings) / "litestream.yml"
    wait_for(lambda: bool(litestream_processes(config)), "litestream to start")
    wait_for(lambda: report_of(settings).ok, "both parts to be caught up")
    assert runner.running_pid(state_dir(settings)) is not None
    # A change in the database reaches the replica: a Litestream restore has it.
    database = sqlite_path(settings)
    assert database is not None
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE probe (value TEXT)")
        connection.execute("INSERT INTO probe VALUES ('after the backup started')")
    wait_for(
        lambda: "probe" in restored_tables(settings, tmp_path),
        "the probe table to be restorable",
    )
    # A new blob object reaches the target.
    LocalBackend(settings.resolved_blob_path).put("data/chunks/ab/ab01", b"sealed bytes")
    target = tmp_path / "backup" / "blobs" / "data" / "chunks" / "ab" / "ab01"
    wait_for(target.exists, "the new object at the target")
    assert target.read_bytes() == b"sealed bytes"
    wait_for(lambda: report_of(settings).ok, "both parts to be caught up again")
    doctor = cmd(settings.data_dir, "doctor", "--json")
    findings = {f["id"]: f for f in json.loads(doctor.output)["findings"]}
    assert findings["backup.lag"]["severity"] == "ok"
    status = cmd(settings.data_dir, "backup", "status")
    assert status.exit_code == 1  # current, but the master key's escrow is not confirmed yet
    assert "incomplete: escrow not confirmed" in " ".join(status.output.split())
    assert cmd(settings.data_dir, "backup", "confirm-escrow", "--by", "DSP Rao").exit_code == 0
    status = cmd(settings.data_dir, "backup", "status")
    assert status.exit_code == 0, status.output
    assert "blobs: ok" in status.output and "database: ok" in status.output


def restored_tables(settings: Settings, tmp_path: Path) -> set[str]:
    out = tmp_path / f"restored-{time.monotonic_ns()}.db"
    config = state_dir(settings) / "litestream.yml"
    command = [find_litestream(), "restore", "-config", str(config), "-o", str(out)]
    result = subprocess.run(
        [*command, str(sqlite_path(settings))],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        return set()
    with sqlite3.connect(out) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}


def test_status_says_what_is_missing(instance_dir: Path) -> None:
    result = cmd(instance_dir, "backup", "status")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "polaris backup run: not running" in output
    assert "blobs: LAGGING, lag unknown" in output and "no complete pass yet" in output
    assert "database: LAGGING, lag unknown" in output and "nothing replicated yet" in output


def test_status_without_a_target_says_not_configured(tmp_path: Path) -> None:
    directory = tmp_path / "plain"
    assert invoke("init", str(directory)).exit_code == 0
    result = cmd(directory, "backup", "status")
    assert result.exit_code == 1
    assert "backups: not configured" in result.output


def test_a_litestream_that_dies_is_restarted(running: Settings) -> None:
    config = state_dir(running) / "litestream.yml"
    wait_for(lambda: bool(litestream_processes(config)), "litestream to start")
    (first,) = litestream_processes(config)
    os.kill(first, signal.SIGKILL)
    wait_for(
        lambda: any(pid != first for pid in litestream_processes(config)),
        "a new litestream process",
    )


def test_doctor_takes_the_backup_lag_from_the_backup_state(instance_dir: Path) -> None:
    result = cmd(instance_dir, "doctor", "--json")
    findings = {f["id"]: f for f in json.loads(result.output)["findings"]}
    assert findings["backup.lag"]["value"] == "no backup yet"  # configured, never run
    runner.blob_replicator(load_settings(instance_dir)).run_pass()
    result = cmd(instance_dir, "doctor", "--json")
    findings = {f["id"]: f for f in json.loads(result.output)["findings"]}
    # The blobs are covered now, the database not yet: still no complete backup.
    assert findings["backup.lag"]["value"] == "no backup yet"
    assert findings["backup.drill"]["value"] == "never"
