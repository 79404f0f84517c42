"""``polaris doctor`` end to end on a new instance (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from polaris.cli.main import app

runner = CliRunner()


def _run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_doctor_reports_json_and_fails_on_critical_findings(tmp_path: Path) -> None:
    data_dir = tmp_path / "instance"
    assert _run("init", str(data_dir), "--admin", "chief").exit_code == 0
    before = _run("doctor", "--json", "--data-dir", str(data_dir))
    assert before.exit_code == 1  # no backups yet, the administrator's password handed over
    report = json.loads(before.stdout)
    assert report["ok"] is False
    found = {finding["id"]: finding for finding in report["findings"]}
    assert set(found["backup.lag"]) == {"id", "severity", "check", "value", "action"}
    assert found["backup.lag"]["severity"] == "critical"
    assert found["keys.master_file_mode"]["severity"] == "ok"
    assert found["accounts.handed_over_admin"]["value"] == "1: chief"
    assert found["verify.storage"]["value"] == "never run"

    assert _run("storage", "verify", "--data-dir", str(data_dir)).exit_code == 0
    assert _run("audit", "verify", "--data-dir", str(data_dir)).exit_code == 0
    after = json.loads(_run("doctor", "--json", "--data-dir", str(data_dir)).stdout)
    found = {finding["id"]: finding for finding in after["findings"]}
    assert found["verify.storage"]["severity"] == "ok"
    assert found["verify.audit"]["severity"] == "ok"

    table = _run("doctor", "--data-dir", str(data_dir))
    assert table.exit_code == 1 and "backup.lag" in table.stdout and "critical" in table.stdout
