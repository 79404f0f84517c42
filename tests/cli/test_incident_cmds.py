"""``polaris incident on/off/status`` and the CLI's writing commands while it is on (SQLite)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from polaris.cli.main import app

runner = CliRunner()


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_the_switch_refuses_writing_commands_until_turned_off(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "instance")]
    assert _run("init", str(tmp_path / "instance"), "--admin", "chief").exit_code == 0
    assert "switch off" in _run("incident", "status", *data).stdout
    on = _run("incident", "on", "--reason", "ransomware at PS-A1", *data)
    assert on.exit_code == 0 and "+05:30" in on.stdout
    status = _run("incident", "status", *data).stdout
    assert "ON since" in status and "ransomware at PS-A1" in status
    assert _run("incident", "on", "--reason", "again", *data).exit_code == 1

    add = ["user", "add", "ct.one", "--name", "One", "--unit", "HQ", "--role", "admin", *data]
    refused = _run(*add)
    assert refused.exit_code == 1 and "instance_read_only" in refused.output
    assert _run("storage", "verify", *data).exit_code == 0  # reads (and its record) go on

    assert _run("incident", "off", *data).exit_code == 0
    assert _run(*add).exit_code == 0
    assert _run("incident", "off", *data).exit_code == 1
