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


def test_the_messengers_rules_and_holds_from_the_command_line(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "instance")]
    assert _run("init", str(tmp_path / "instance"), "--admin", "chief").exit_code == 0
    added = _run("retention", "set", "--room-kind", "group", "--keep-messages-days", "90", *data)
    assert added.exit_code == 0, added.output
    assert "'room_kind': 'group'" in added.stdout and "'keep_messages_days': 90" in added.stdout
    assert "'room_kind': 'group'" in _run("retention", "list", *data).stdout
    odd = _run("retention", "set", "--room-kind", "party", "--keep-messages-days", "9", *data)
    assert odd.exit_code == 1 and "retention_target" in odd.output
    mixed = _run("retention", "set", "--room-kind", "direct", "--purge-trash-days", "9", *data)
    assert mixed.exit_code == 1 and "retention_duration" in mixed.output
    missing = _run("retention", "hold", "--room", "999", "--reason", "inquiry", *data)
    assert missing.exit_code == 1 and "not_found" in missing.output
    both = _run("retention", "hold", "5", "--room", "9", "--reason", "inquiry", *data)
    assert both.exit_code == 2
    held = _run("retention", "hold", "--user", "chief", "--reason", "inquiry 4/2026", *data)
    assert held.exit_code == 0 and "on user" in held.stdout, held.output
    assert "inquiry 4/2026" in _run("retention", "holds", *data).stdout
    ran = _run("retention", "run", *data)
    assert "messages: removed the text of 0 in 0 room(s)" in ran.stdout
    lifted = _run("retention", "release", "--user", "chief", "--reason", "closed", *data)
    assert lifted.exit_code == 0 and "lifted" in lifted.stdout
    assert _run("retention", "holds", *data).stdout == ""
