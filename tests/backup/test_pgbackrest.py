"""A PostgreSQL instance backed up by pgBackRest and restored to a point in time, end to end:
a throwaway cluster of the test's own (never the shared server: archiving is a server setting),
``backup pg-setup`` turning WAL archiving on, ``backup run`` taking the base backup, and
``polaris restore --to`` bringing back exactly what was committed before that time, verified.

What can fail: a setting the server needs that is not set or not reported, WAL that does not
reach the repository, a restore that replays past (or stops short of) the time asked for, a
restored copy that pushes WAL into the backup it came from, a process left running.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from polaris.backup import pgbackrest, pgbackups, pgserver, runner
from polaris.backup.drills import drills
from polaris.backup.pgbackrest import RepoBackup, RepoInfo
from polaris.backup.pgserver import ServerFacts
from polaris.backup.state import state_dir
from polaris.backup.target import backup_target, target_of
from polaris.config import Settings, load_settings
from polaris.drive.models import FileVersion, Node
from polaris.errors import ValidationFailed
from polaris.instance import open_instance
from tests.backup.test_runner import report_of
from tests.cli.test_cli import cmd, invoke
from tests.ingest.test_bulk import image
from tests.live_server import wait_for

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
#: The end-to-end test runs clusters as the postgres OS user (scripts/test.sh installs both).
needs_servers = pytest.mark.skipif(
    not PG_BINS or shutil.which("pgbackrest") is None or os.geteuid() != 0,
    reason="needs PostgreSQL's server binaries, pgbackrest, and root",
)
AS_POSTGRES = ["runuser", "-u", "postgres", "--"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    data: Path
    port: int
    socket_dir: Path

    def pg_ctl(self, *args: str) -> None:
        pg_ctl = str(PG_BINS[-1].with_name("pg_ctl"))
        log = str(self.data.with_name(self.data.name + ".log"))
        subprocess.run([*AS_POSTGRES, pg_ctl, "-D", str(self.data), "-l", log, *args], check=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        self.pg_ctl("-w", "-o", options, "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def scalar(self, query: str, database: str = "postgres") -> object:
        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(query)
            row = cursor.fetchone() if cursor.description else None
        return None if row is None else row[0]


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory of the postgres OS user's (pytest's own are root's alone): the servers' logs
    and sockets go there."""
    directory = Path(tempfile.mkdtemp(prefix="polaris-pgbr-", dir="/tmp"))
    directory.chmod(0o755)
    shutil.chown(directory, "postgres", "postgres")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def servers(base: Path) -> Iterator[list[Server]]:
    """Started servers, each stopped at the end (the test appends the restored one)."""
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def primary(base: Path, servers: list[Server]) -> Server:
    """A new cluster, archiving off as after initdb: pg-setup must turn it on."""
    data = base / "primary"
    data.mkdir(mode=0o700)
    shutil.chown(data, "postgres", "postgres")
    initdb = [str(PG_BINS[-1]), "-D", str(data), "-U", "postgres", "--auth=trust"]
    subprocess.run([*AS_POSTGRES, *initdb, "-E", "UTF8", "--locale=C.UTF-8"], check=True,
                   capture_output=True)  # fmt: skip
    server = Server(data, free_port(), base)
    server.start()
    servers.append(server)
    server.scalar("CREATE DATABASE polaris")
    return server


def import_files(data_dir: Path, tree: Path, *names: str) -> None:
    for name in names:
        image(tree / name, "PNG")
    args = ["import", str(tree), "--space", "unit:DST-BPL", "--as", "clerk.bpl"]
    result = cmd(data_dir, *args, "--summary", str(tree.with_suffix(".json")))
    assert result.exit_code == 0, result.output


def file_names(settings: Settings) -> set[str]:
    instance = open_instance(settings)
    try:
        with instance.sessions() as session:
            query = select(Node.name).join(FileVersion, FileVersion.node_id == Node.id)
            return set(session.scalars(query))
    finally:
        instance.close()


def database_ok(settings: Settings) -> bool:
    parts = {part.name: part for part in report_of(settings).parts}
    return parts["database"].ok


@pytest.mark.slow
@needs_servers
def test_a_point_in_time_restore_brings_back_exactly_what_came_before(
    base: Path, primary: Server, servers: list[Server]
) -> None:
    directory = base / "instance"
    url = primary.url("polaris").replace("postgresql://", "postgresql+psycopg://")
    assert invoke("init", str(directory), "--demo", "--database-url", url).exit_code == 0
    with (directory / "polaris.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[backup]\ntarget = "{base / "backup"}"\nblob_interval_seconds = 0.2\n'
            f'pg_os_user = "postgres"\npg_config_file = "{base / "pgbackrest.conf"}"\n'
            f'pg_socket_dir = "{base}"\npg_stanza = "t{os.getpid()}"\n'
        )
    settings = load_settings(directory)

    status = cmd(directory, "backup", "status")
    assert "archive_mode is 'off'" in " ".join(status.output.split())
    setup = cmd(directory, "backup", "pg-setup")
    output = " ".join(setup.output.split())
    assert setup.exit_code == 1, setup.output  # archive_mode waits for a restart
    assert "set with ALTER SYSTEM and reloaded" in output and "restart PostgreSQL" in output
    primary.pg_ctl("-m", "fast", "-w", "stop")
    primary.start()
    setup = cmd(directory, "backup", "pg-setup")
    assert setup.exit_code == 0, setup.output
    assert "pgbackrest check: ok" in setup.output

    import_files(directory, base / "before-backup", "one.png", "two.png")
    stop = threading.Event()
    thread = threading.Thread(target=lambda: runner.run(settings, stop=stop), daemon=True)
    thread.start()
    try:
        wait_for(lambda: report_of(settings).ok, "the base backup and the blobs", timeout=120)
        import_files(directory, base / "after-backup", "three.png")
        moment = primary.scalar("SELECT clock_timestamp()")
        import_files(directory, base / "too-late", "four.png")
        primary.scalar("SELECT pg_switch_wal()")  # no waiting for archive_timeout
        wait_for(lambda: report_of(settings).ok, "the last WAL archived", timeout=120)
        status = cmd(directory, "backup", "status")
        assert "database: ok" in status.output
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not thread.is_alive()

    drill = cmd(directory, "backup", "drill", "--sample", "2")
    assert drill.exit_code == 0, drill.output
    (done,) = drills(state_dir(settings))
    assert done.ok and done.files_sampled == 2
    assert [path.name for path in base.iterdir() if path.name.startswith("drill-")] == []

    keys = ["--master-key-file", str(directory / "master.key")]
    keys += ["--audit-key-file", str(directory / "audit-signing.key")]
    restored_pg = Server(base / "restored-pg", free_port(), base / "restored-pg")
    servers.append(restored_pg)
    restored = base / "restored"
    result = invoke(
        "restore", "--target", str(restored), "--from", str(base / "backup"),
        "--to", moment.isoformat(),  # type: ignore[attr-defined]
        "--pg-data", str(restored_pg.data), "--pg-port", str(restored_pg.port), *keys,
    )  # fmt: skip
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "storage verify: ok" in output and "audit verify: ok" in output
    restored_settings = load_settings(restored)
    assert f":{restored_pg.port}/polaris" in restored_settings.database_url
    assert file_names(restored_settings) == {"one.png", "two.png", "three.png"}
    assert restored_pg.scalar("SHOW archive_mode") == "off"  # never into the backup it came from
    assert file_names(settings) == {"one.png", "two.png", "three.png", "four.png"}


def test_the_configuration_schedule_and_lag_rules_without_a_server(tmp_path: Path) -> None:
    """No server here: what could go wrong is a secret on a command line, plain HTTP to S3, a
    backup not taken when due, or an idle server's own WAL shown as lag."""
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://polaris@db.example:5433/polaris",
        backup={"target": "s3://vault/site-a?endpoint=https://s3.example:9000",
                "access_key_id": "AK", "secret_access_key": "SK", "pg_data_dir": "/srv/pg"},
    )  # fmt: skip
    cluster = pgbackrest.cluster_of(settings)
    assert cluster is not None and cluster.port == 5433
    text = pgbackrest.config_text(
        cluster, Path("/srv/pg"), backup_target(settings), retention_days=7
    )
    assert "repo1-path=/site-a/pg\n" in text and "repo1-s3-endpoint=s3.example\n" in text
    assert "repo1-storage-port=9000\n" in text and "repo1-s3-key-secret=SK\n" in text
    assert "SK" not in pgbackrest.archive_command(cluster)
    plain = settings.backup.model_copy(update={"target": "s3://vault?endpoint=http://s3.local"})
    with pytest.raises(ValidationFailed, match="https only"):
        pgbackrest.repository_options(target_of(plain))

    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    every = {"full_every": dt.timedelta(days=7), "diff_every": dt.timedelta(hours=24)}

    def backup(kind: str, hours_ago: float) -> RepoBackup:
        at = now - dt.timedelta(hours=hours_ago)
        return RepoBackup(f"{kind}-{hours_ago}", kind, at, at)

    def due(*backups: RepoBackup) -> str | None:
        return pgbackrest.due_kind(RepoInfo(True, "ok", list(backups), None), now, **every)

    assert due() == "full"
    assert due(backup("full", 2)) is None
    assert due(backup("full", 30)) == "diff"
    assert due(backup("full", 30), backup("diff", 1)) is None
    assert due(backup("full", 24 * 8), backup("diff", 1)) == "full"

    archived = now - dt.timedelta(seconds=90)
    facts = ServerFacts(
        settings={"archive_mode": "on", "archive_command": "x", "archive_timeout": "30",
                  "track_commit_timestamp": "off", "wal_level": "replica"},
        pending_restart={"track_commit_timestamp"}, superuser=False, in_recovery=False,
        last_archived_wal="000000010000000000000004", last_archived_at=archived,
        last_failed_wal=None, last_failed_at=None,
        current_segment="000000010000000000000005", last_commit_at=None,
    )  # fmt: skip
    assert pgserver.problems(facts, "x", 30) == [
        "track_commit_timestamp is 'off', not 'on' (changed: restart PostgreSQL for it to take "
        "effect)"
    ]
    assert pgbackups.covered_at(facts, now) == archived  # WAL after the last archiving: lag
    idle = dataclasses.replace(facts, last_commit_at=archived - dt.timedelta(seconds=1))
    assert pgbackups.covered_at(idle, now) == now  # only the server's own WAL since
    busy = dataclasses.replace(facts, last_commit_at=archived + dt.timedelta(seconds=1))
    assert pgbackups.covered_at(busy, now) == archived
    switched = dataclasses.replace(busy, current_segment="000000010000000000000004")
    assert pgbackups.covered_at(switched, now) == now
