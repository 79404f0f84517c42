"""``polaris retention``: rules set, listed, deleted; holds refused for a missing node; a pass run
(SQLite; the rules and holds themselves are tested in tests/drive/test_retention.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from polaris.cli.main import app

runner = CliRunner()


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_rules_from_the_command_line(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "instance")]
    assert _run("init", str(tmp_path / "instance"), "--admin", "chief").exit_code == 0
    added = _run("retention", "set", "--classification", "3", "--keep-versions-years", "30", *data)
    assert added.exit_code == 0, added.output
    assert "'classification': 3" in added.stdout and "'keep_versions_years': 30" in added.stdout
    assert "rule 1:" in _run("retention", "list", *data).stdout
    nothing = _run("retention", "set", "--classification", "3", *data)
    assert nothing.exit_code == 1 and "retention_duration" in nothing.output
    missing = _run("retention", "hold", "999", "--reason", "court order", *data)
    assert missing.exit_code == 1 and "not_found" in missing.output
    assert "expired 0 version(s)" in _run("retention", "run", *data).stdout
    assert _run("retention", "delete", "1", *data).exit_code == 0
    assert _run("retention", "list", *data).stdout == ""
    assert _run("retention", "holds", *data).stdout == ""
