"""The ``polaris`` command end to end on a real instance directory (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from polaris.cli.main import app
from polaris.config import load_settings
from polaris.db.engine import make_engine
from tests.conftest import DATABASE_BACKENDS, pg_url, reset_postgresql

runner = CliRunner()


@pytest.fixture(params=DATABASE_BACKENDS)
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A new instance, initialised with the demo organisation, on SQLite or PostgreSQL."""
    directory = tmp_path / "instance"
    args = ["init", str(directory), "--demo"]
    if request.param == "postgresql":
        engine = make_engine(pg_url())
        reset_postgresql(engine)
        engine.dispose()
        args += ["--database-url", pg_url()]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "admin login: admin" in result.output
    yield directory
    if request.param == "postgresql":
        engine = make_engine(pg_url())
        reset_postgresql(engine)
        engine.dispose()


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def cmd(data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    return invoke(*args, "--data-dir", str(data_dir))


def test_init_writes_keys_readable_only_by_the_owner(data_dir: Path) -> None:
    for name in ("master.key", "audit-signing.key", "demo-logins.txt"):
        mode = stat.S_IMODE(os.stat(data_dir / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert (data_dir / "polaris.toml").is_file()
    again = invoke("init", str(data_dir))
    assert again.exit_code == 1 and "already holds an instance" in again.output


def test_demo_organisation_has_every_level_and_role(data_dir: Path) -> None:
    settings = load_settings(data_dir)
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        kinds = dict(
            connection.execute(text("SELECT kind, count(*) FROM unit GROUP BY kind")).all()
        )
        roles = {
            r for (r,) in connection.execute(text("SELECT DISTINCT role_code FROM user_account"))
        }
        user_count = connection.execute(text("SELECT count(*) FROM user_account")).scalar_one()
    engine.dispose()
    assert kinds == {"hq": 1, "range": 2, "district": 3, "subdivision": 6, "station": 12}
    assert roles == {
        "admin",
        "hq_head",
        "range_head",
        "district_head",
        "subdivision_head",
        "station_head",
        "sub_inspector",
        "head_constable",
        "constable",
        "records_clerk",
    }
    assert 55 <= user_count <= 70


def test_units_import_names_the_bad_row_and_imports_nothing(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "units.csv"
    bad.write_text(
        "code,name,kind,parent_code\nBR-1,Cyber Cell,branch,PHQ\nBR-2,Bad,branch,NOWHERE\n",
        encoding="utf-8",
    )
    result = cmd(data_dir, "units", "import", str(bad))
    assert result.exit_code == 1
    assert "row 3" in result.output and "NOWHERE" in result.output
    good = tmp_path / "good.csv"
    good.write_text("code,name,kind,parent_code\nBR-1,Cyber Cell,branch,PHQ\n", encoding="utf-8")
    result = cmd(data_dir, "units", "import", str(good))
    assert result.exit_code == 0, result.output
    assert "imported 1 units" in result.output


def test_users_import_and_account_commands(data_dir: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "users.csv"
    csv_file.write_text(
        "username,full_name,unit_code,role\nnew.si,नया एसआई,PS-BPL-KOTWALI,sub_inspector\n",
        encoding="utf-8",
    )
    out = tmp_path / "passwords.tsv"
    result = cmd(data_dir, "users", "import", str(csv_file), "--passwords-out", str(out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert out.read_text().startswith("new.si\t")
    assert (
        cmd(
            data_dir,
            "user",
            "add",
            "another",
            "--name",
            "Another One",
            "--unit",
            "PS-IND-PALASIA",
            "--role",
            "constable",
        ).exit_code
        == 0
    )
    assert cmd(data_dir, "user", "reset-password", "another").exit_code == 0
    assert cmd(data_dir, "user", "reset-mfa", "sho.kotwali").exit_code == 0
    token = cmd(data_dir, "token", "create", "another", "--name", "script", "--scope", "read")
    assert token.exit_code == 0 and token.output.strip().startswith("pol_")
    assert cmd(data_dir, "user", "disable", "another").exit_code == 0
    missing = cmd(data_dir, "user", "disable", "nobody.at.all")
    assert missing.exit_code == 1 and "not_found" in missing.output


def test_audit_verify_export_and_tamper_detection(data_dir: Path, tmp_path: Path) -> None:
    assert cmd(data_dir, "audit", "seal").exit_code == 0
    result = cmd(data_dir, "audit", "verify")
    assert result.exit_code == 0, result.output
    export = tmp_path / "audit.jsonl"
    assert cmd(data_dir, "audit", "export", "--output", str(export)).exit_code == 0
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert lines and {"seq", "action", "hash", "prev_hash"} <= set(lines[0])
    assert any(line["action"] == "user.create" for line in lines)
    settings = load_settings(data_dir)
    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_record SET actor_name = 'intruder' WHERE seq = 3"))
    engine.dispose()
    result = cmd(data_dir, "audit", "verify")
    assert result.exit_code == 1
    assert "at record 3" in result.output


def test_storage_verify_on_the_new_store(data_dir: Path) -> None:
    result = cmd(data_dir, "storage", "verify")
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_commands_without_an_instance_fail_clearly(tmp_path: Path) -> None:
    result = invoke("user", "disable", "x", "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "no Polaris instance" in result.output
