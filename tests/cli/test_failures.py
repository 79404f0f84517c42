"""Failures an operator can fix are one line and exit status 1, whatever the command."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polaris.cli.failures import explain
from polaris.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("failures") / "instance"
    result = runner.invoke(app, ["init", str(directory), "--admin", "admin"])
    assert result.exit_code == 0, result.output
    return directory


def one_line_failure(*args: str, env: dict[str, str] | None = None) -> str:
    # catch_exceptions=False: an exception the group did not turn into a line fails the test.
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_database_without_tables_says_run_migrate(instance: Path, tmp_path: Path) -> None:
    empty = {"POLARIS_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    line = one_line_failure("jobs", "status", "--data-dir", str(instance), env=empty)
    assert "no such table" in line and "polaris migrate" in line


def test_serve_refuses_a_database_whose_schema_is_not_current(
    instance: Path, tmp_path: Path
) -> None:
    empty = {"POLARIS_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    line = one_line_failure("serve", "--data-dir", str(instance), "--port", "0", env=empty)
    assert f"run: polaris migrate --data-dir {instance}" in line


def test_a_bad_setting_names_the_setting(tmp_path: Path, instance: Path) -> None:
    line = one_line_failure(
        "jobs", "status", "--data-dir", str(instance), env={"POLARIS_HTTP__PORT": "eighty"}
    )
    assert line.startswith("error: invalid setting http.port:")


def test_a_user_error_from_a_service_keeps_its_code(instance: Path) -> None:
    line = one_line_failure(
        "units", "add", "HQ", "--name", "Again", "--kind", "hq", "-d", str(instance)
    )
    assert line.startswith("error (duplicate_code):")


def test_file_system_errors_say_what_and_where() -> None:
    denied = explain(PermissionError(errno.EACCES, "Permission denied", "/srv/polaris"))
    assert denied is not None
    assert denied.startswith("error: permission denied: /srv/polaris; run polaris as the user")
    full = explain(OSError(errno.ENOSPC, "No space left on device", "/srv/polaris/blobs"))
    assert full == "error: no space left on the device: /srv/polaris/blobs"


def test_a_bug_is_not_explained_away() -> None:
    assert explain(KeyError("x")) is None
    assert explain(ZeroDivisionError()) is None
