"""``polaris init``'s first administrator, its clean-up after a failure, and ``--data-dir``."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from polaris.cli.main import app
from polaris.config import load_settings
from polaris.db.engine import make_engine
from polaris.identity.passwords import Argon2Parameters, Passwords
from tests.conftest import DEFAULT_PG_URL

runner = CliRunner()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def leaf_commands(command: Any, path: str = "polaris") -> Iterator[tuple[str, Any]]:
    """Every command that runs something, by its full name (Typer's own click classes)."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from leaf_commands(sub, f"{path} {name}")
    else:
        yield path, command


def test_every_command_takes_data_dir() -> None:
    commands = dict(leaf_commands(typer.main.get_command(app)))
    assert "polaris init" in commands and "polaris serve" in commands
    without = [
        path
        for path, command in commands.items()
        if not any("--data-dir" in getattr(p, "opts", ()) for p in command.params)
    ]
    assert without == []


def test_init_with_admin_makes_the_top_unit_and_an_administrator_who_must_change_password(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "instance"
    result = invoke(
        "init", str(directory), "--admin", "a.sharma", "--admin-name", "Asha Sharma",
        "--unit-code", "PHQ", "--unit-name", "Police Headquarters",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    password = re.search(r"one-off password: (\S+)", result.output)
    assert password is not None, result.output
    engine = make_engine(load_settings(directory).resolved_database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT u.username, u.full_name, u.role_code, u.must_change_password, "
                "u.password_hash, unit.code, unit.kind, unit.parent_id FROM user_account u "
                "JOIN unit ON unit.id = u.unit_id"
            )
        ).one()
        actions = set(connection.execute(text("SELECT action FROM audit_record")).scalars())
    engine.dispose()
    assert row[:4] == ("a.sharma", "Asha Sharma", "admin", True)
    assert row[5:] == ("PHQ", "hq", None)
    assert Passwords(Argon2Parameters()).verify(row.password_hash, password.group(1)).ok
    assert {"unit.create", "user.create"} <= actions


def test_a_failed_init_step_removes_what_init_wrote_and_a_rerun_works(tmp_path: Path) -> None:
    directory = tmp_path / "instance"
    # The administrator is made last: a bad username fails after keys, store and database exist.
    failed = invoke("init", str(directory), "--admin", "no spaces allowed")
    assert failed.exit_code == 1
    assert "username must be" in failed.output
    assert not directory.exists()
    again = invoke("init", str(directory), "--admin", "admin")
    assert again.exit_code == 0, again.output


def test_init_in_an_existing_directory_keeps_what_was_there(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    failed = invoke("init", str(tmp_path), "--admin", "bad name")
    assert failed.exit_code == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_refuses_two_different_data_directories(tmp_path: Path) -> None:
    result = invoke("init", str(tmp_path / "a"), "--data-dir", str(tmp_path / "b"))
    assert result.exit_code == 1
    assert "two data directories given" in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_database_failure_never_shows_the_password(tmp_path: Path) -> None:
    base = make_url(os.environ.get("POLARIS_TEST_PG_URL", DEFAULT_PG_URL))
    url = base.set(password="s3cret-word", database=f"polaris_missing_{uuid.uuid4().hex[:12]}")
    result = invoke(
        "init", str(tmp_path / "instance"), "--database-url", url.render_as_string(False)
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "s3cret-word" not in result.output and "***" in result.output
