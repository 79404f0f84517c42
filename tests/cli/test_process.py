"""The ``polaris`` command as an operator meets it: a real process, its exit status and its output.

A failure the operator can fix is one line on stderr saying what to do, never a traceback; a failed
``init`` leaves nothing behind, so the same command works once the cause is fixed.
"""

from __future__ import annotations

import os
import shlex
import socket
import stat
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import polaris
from polaris.config import load_settings
from polaris.db.engine import make_engine
from tests.conftest import DEFAULT_PG_URL, PG_SCHEMA, pg_url, reset_postgresql

INIT_SCHEMA = PG_SCHEMA + "_cli_init"
SOURCE_DIR = Path(polaris.__file__).resolve().parents[1]


def polaris_process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("POLARIS_DATA_DIR", "POLARIS_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_DIR), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_polaris(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polaris.cli.main", *args],
        capture_output=True,
        text=True,
        env=polaris_process_env(**env),
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit status 1, nothing but one line on stderr, holding each of ``expected``."""
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def init_schema() -> Iterator[str]:
    """A PostgreSQL URL on an empty schema of this run, dropped afterwards."""
    engine = make_engine(pg_url(INIT_SCHEMA))
    reset_postgresql(engine, INIT_SCHEMA)
    yield pg_url(INIT_SCHEMA)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {INIT_SCHEMA} CASCADE"))
    engine.dispose()


def test_init_on_a_missing_postgresql_database_says_so_and_leaves_nothing(
    tmp_path: Path, init_schema: str
) -> None:
    missing = f"polaris_missing_{uuid.uuid4().hex[:12]}"
    base = make_url(os.environ.get("POLARIS_TEST_PG_URL", DEFAULT_PG_URL))
    url = base.set(database=missing).render_as_string(hide_password=False)
    directory = tmp_path / "instance"

    failed = run_polaris("init", str(directory), "--database-url", url)

    assert_one_line_failure(
        failed, f'database "{missing}" does not exist', "nothing was written", "polaris init"
    )
    assert not directory.exists()
    # The cause fixed (here: a database that exists), the same command works.
    fixed = run_polaris("init", str(directory), "--database-url", init_schema)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert (directory / "polaris.toml").is_file()


def test_a_key_file_readable_by_others_is_refused_in_one_line_naming_the_fix(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "instance"
    assert run_polaris("init", str(directory)).returncode == 0
    for key_file in (directory / "master.key", directory / "audit-signing.key"):
        os.chmod(key_file, 0o644)
        refused = run_polaris("jobs", "status", "--data-dir", str(directory))
        assert_one_line_failure(refused, str(key_file), "0644", f"chmod 600 {key_file}")
        os.chmod(key_file, 0o600)
    os.chmod(directory / "master.key", 0o644)
    debug = run_polaris("jobs", "status", "--data-dir", str(directory), POLARIS_DEBUG="1")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_init_takes_data_dir_like_every_other_command(tmp_path: Path) -> None:
    directory = tmp_path / "by-option"
    created = run_polaris("init", "--data-dir", str(directory))
    assert created.returncode == 0, created.stderr[-3000:]
    assert stat.S_IMODE(os.stat(directory / "master.key").st_mode) == 0o600
    assert (directory / "polaris.toml").is_file()


@pytest.mark.slow
def test_serve_prints_the_address_it_really_listens_on(tmp_path: Path) -> None:
    directory = tmp_path / "instance"
    assert run_polaris("init", str(directory)).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "polaris.cli.main", "serve", "--data-dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=polaris_process_env(POLARIS_HTTP__PORT=str(port), POLARIS_HTTP__HOST="127.0.0.1"),
    )
    try:
        assert server.stdout is not None
        seen = []
        for line in server.stdout:  # the line comes before uvicorn reports the app started
            seen.append(line)
            if line.startswith("Polaris serving on") or "startup complete" in line:
                break
        assert seen and seen[-1].startswith(f"Polaris serving on http://127.0.0.1:{port} "), seen
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.communicate(timeout=60)


def test_plain_init_prints_the_next_commands_and_they_make_an_administrator(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "new instance"  # a space: the printed commands must quote it
    created = run_polaris("init", str(directory))
    assert created.returncode == 0, created.stderr[-3000:]
    commands = [
        shlex.split(line) for line in created.stdout.splitlines() if line.startswith("  polaris ")
    ]
    assert [c[1] for c in commands] == ["units", "user", "serve"], created.stdout
    for command in commands[:-1]:
        done = run_polaris(*command[1:])
        assert done.returncode == 0, (command, done.stderr[-3000:])
    assert "first sign-in password: " in done.stdout
    engine = make_engine(load_settings(directory).resolved_database_url)
    with engine.connect() as connection:
        admin = connection.execute(
            text(
                "SELECT u.role_code, u.must_change_password, unit.kind FROM user_account u "
                "JOIN unit ON unit.id = u.unit_id"
            )
        ).one()
    engine.dispose()
    assert tuple(admin) == ("admin", True, "hq")
