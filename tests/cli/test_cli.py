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
from tests.conftest import DATABASE_BACKENDS, PG_SCHEMA, pg_url, reset_postgresql

CLI_SCHEMA = PG_SCHEMA + "_cli"

runner = CliRunner()


@pytest.fixture(params=DATABASE_BACKENDS)
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A new instance, initialised with the demo organisation, on SQLite or PostgreSQL."""
    directory = tmp_path / "instance"
    args = ["init", str(directory), "--demo"]
    if request.param == "postgresql":
        engine = make_engine(pg_url(CLI_SCHEMA))
        reset_postgresql(engine, CLI_SCHEMA)
        engine.dispose()
        args += ["--database-url", pg_url(CLI_SCHEMA)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "admin login: admin" in result.output
    yield directory
    if request.param == "postgresql":
        engine = make_engine(pg_url(CLI_SCHEMA))
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {CLI_SCHEMA} CASCADE"))
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
        kinds: dict[str, int] = dict(
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


def test_worker_drains_the_queue_and_jobs_status_counts(data_dir: Path) -> None:
    from polaris import jobs
    from polaris.db.uow import transaction
    from polaris.instance import open_instance

    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    with transaction(session):
        # A preview of a version that does not exist: the job fails, and says so.
        jobs.enqueue(session, kind="ingest.previews", payload={"version_id": 999_999})
    session.close()
    instance.close()

    drained = cmd(data_dir, "worker", "--drain")
    assert drained.exit_code == 0, drained.output
    assert "ran 1 job(s)" in drained.output
    status = cmd(data_dir, "jobs", "status")
    assert status.exit_code == 0, status.output
    assert "failed: 1" in status.output
    assert "the version no longer exists" in status.output


def test_events_status_shows_the_head_and_each_consumer(data_dir: Path) -> None:
    import re

    before = cmd(data_dir, "events", "status")
    assert before.exit_code == 0, before.output
    # No runner has run: the set-up's events wait for the sequencer, no consumer has started.
    assert "head: 0" in before.output and "oldest kept: none kept" in before.output
    waiting = re.search(r"^waiting for a position: (\d+)$", before.output, re.M)
    assert waiting is not None and int(waiting.group(1)) > 0
    assert "search.index: not started" in before.output

    assert cmd(data_dir, "worker", "--drain").exit_code == 0
    after = cmd(data_dir, "events", "status")
    head = int(re.search(r"^head: (\d+)$", after.output, re.M).group(1))  # type: ignore[union-attr]
    assert head > 0 and "oldest kept: 1" in after.output
    assert "waiting for a position: 0" in after.output
    for name in ("drive.usage", "ingest.derivatives", "search.index"):
        assert f"{name}: position {head}, lag 0" in after.output


def test_search_reindex_rebuilds_the_index_from_the_database(
    data_dir: Path, tmp_path: Path
) -> None:
    scans = tmp_path / "scans" / "1999"
    scans.mkdir(parents=True)
    (scans / "page.png").write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
        )
    )
    imported = cmd(
        data_dir, "import", str(tmp_path / "scans"), "--space", "unit:DST-BPL",
        "--as", "clerk.bpl", "--no-process", "--summary", str(tmp_path / "summary.json"),
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    reindexed = cmd(data_dir, "search", "reindex")
    assert reindexed.exit_code == 0, reindexed.output
    assert "indexed 2 files and folders" in reindexed.output  # the folder 1999 and its page
    status = cmd(data_dir, "search", "status")
    assert status.exit_code == 0 and "documents: 2" in status.output


def test_a_command_seals_the_audit_records_it_appended(data_dir: Path) -> None:
    """With no server running nothing else would seal them, and a later verify would flag
    records left unsealed past the grace period."""
    assert cmd(data_dir, "storage", "verify").exit_code == 0
    settings = load_settings(data_dir)
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        unsealed = connection.scalar(text("SELECT count(*) FROM audit_record WHERE seq IS NULL"))
        recorded = connection.scalar(
            text("SELECT count(*) FROM audit_record WHERE action LIKE 'storage.verify%'")
        )
    engine.dispose()
    assert recorded and unsealed == 0
