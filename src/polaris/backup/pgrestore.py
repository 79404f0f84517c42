"""Restore of the PostgreSQL part: ``pgbackrest restore`` into an empty data directory, then the
restored server started on a port of the operator's choosing (the checks need it running).

The restore writes its own pgbackrest.conf beside the data directory (``DIR.pgbackrest.conf``:
the server's ``restore_command`` reads it while it replays WAL, as the server's OS user) and
turns archiving off in the restored cluster (``--archive-mode=off``): a restored copy, a drill's
above all, must never push its WAL into the backup it came from. ``polaris backup pg-setup`` on
the restored instance turns archiving on again (it asks for a restart).

Debian keeps ``postgresql.conf`` and ``pg_hba.conf`` in /etc, outside the data directory, so a
backup of a Debian cluster restores without them: when they are missing, minimal ones are
written (local connections by peer, 127.0.0.1 by password).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from polaris.backup import pgbackrest
from polaris.backup.pgbackrest import Cluster
from polaris.backup.pgserver import postgres_url
from polaris.backup.target import BackupTarget
from polaris.errors import StorageFailure, ValidationFailed

#: How long the restored server may replay WAL before it is given up on.
RECOVERY_TIMEOUT_SECONDS = 6 * 3600.0
_MINIMAL_FILES = {
    "postgresql.conf": "# Written by polaris restore: the backup held no postgresql.conf.\n",
    "pg_hba.conf": (
        "# Written by polaris restore: the backup held no pg_hba.conf.\n"
        "local all all peer\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host all all ::1/128 scram-sha-256\n"
    ),
    "pg_ident.conf": "",
}


class PgRestoreRefused(ValidationFailed):
    """The PostgreSQL restore cannot start: nothing was written."""


@dataclass(frozen=True)
class PgRestoreRequest:
    """Where and how: ``database_url`` is the old instance's (its role, password and database
    name are restored with the cluster); the restored server listens on 127.0.0.1:``port``."""

    data_dir: Path
    port: int
    stanza: str
    os_user: str | None
    database_url: str


@dataclass(frozen=True)
class RestoredCluster:
    data_dir: Path
    #: The restored instance's database URL (the server on 127.0.0.1:port).
    database_url: str
    start_command: list[str]
    stop_command: list[str]


def check_request(request: PgRestoreRequest) -> None:
    """Refuse before anything is written: the data directory must be missing or empty."""
    directory = request.data_dir.absolute()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise PgRestoreRefused(f"--pg-data {directory} is not empty: restore into an empty one")
    pgbackrest.find_pgbackrest()
    if postgres_url(request.database_url) is None:
        raise PgRestoreRefused("the backed-up settings name no PostgreSQL database_url")


def restore_cluster(
    target: BackupTarget, request: PgRestoreRequest, *, to: dt.datetime | None
) -> RestoredCluster:
    """``pgbackrest restore`` (to ``to``, or to the end of the archived WAL), then the server
    started and waited for until it has left recovery."""
    check_request(request)
    data_dir = request.data_dir.absolute()
    url = postgres_url(request.database_url)
    assert url is not None
    cluster = Cluster(
        stanza=request.stanza,
        url=url,
        data_dir=data_dir,
        port=request.port,
        socket_dir=data_dir,
        os_user=request.os_user,
        config_file=data_dir.with_name(f"{data_dir.name}.pgbackrest.conf"),
    )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    pgbackrest.give_to(data_dir, request.os_user)
    text = pgbackrest.config_text(cluster, data_dir, target, retention_days=1)
    pgbackrest.write_config(cluster, text, target, repository=False)
    args = ["--archive-mode=off"]
    if to is not None:
        moment = to.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        args += ["--type=time", f"--target={moment}", "--target-action=promote"]
    pgbackrest.run(cluster, *args, "restore", timeout=RECOVERY_TIMEOUT_SECONDS)
    for name, content in _MINIMAL_FILES.items():
        path = data_dir / name
        if not path.exists():
            path.write_text(content, encoding="utf-8")
            pgbackrest.give_to(path, request.os_user)
    restored_url = url.set(host="127.0.0.1", port=request.port, query={})
    restored = RestoredCluster(
        data_dir,
        restored_url.render_as_string(hide_password=False),
        start_command(data_dir, request.port, request.os_user),
        stop_command(data_dir, request.os_user),
    )
    start(restored)
    return restored


def _pg_ctl(data_dir: Path) -> str:
    """The pg_ctl of the restored cluster's major version (Debian's layout), else on PATH."""
    with contextlib.suppress(FileNotFoundError):
        version = (data_dir / "PG_VERSION").read_text(encoding="ascii").strip()
        debian = Path(f"/usr/lib/postgresql/{version}/bin/pg_ctl")
        if debian.is_file():
            return str(debian)
    found = shutil.which("pg_ctl")
    if found is None:
        raise StorageFailure("pg_ctl not found: install PostgreSQL's server binaries")
    return found


def start_command(data_dir: Path, port: int, os_user: str | None) -> list[str]:
    options = f"-p {port} -k {shlex.quote(str(data_dir))} -c listen_addresses=127.0.0.1"
    log = data_dir.with_name(f"{data_dir.name}.log")
    command = [_pg_ctl(data_dir), "-D", str(data_dir), "-l", str(log), "-o", options, "start"]
    return pgbackrest.as_os_user(os_user, command)


def stop_command(data_dir: Path, os_user: str | None) -> list[str]:
    command = [_pg_ctl(data_dir), "-D", str(data_dir), "-m", "fast", "-w", "stop"]
    return pgbackrest.as_os_user(os_user, command)


def start(restored: RestoredCluster) -> None:
    """Start the server and wait until it has replayed the WAL and left recovery (pg_ctl's own
    wait ends as soon as it takes connections, which a hot standby does while it replays)."""
    command = [*restored.start_command[:-1], "-w", "-t", "600", "start"]
    result = subprocess.run(command, capture_output=True, timeout=700, check=False)  # noqa: S603
    if result.returncode != 0:
        raise StorageFailure(f"the restored PostgreSQL did not start: {_log_tail(restored)}")
    deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
    conninfo = restored.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    while True:
        try:
            with psycopg.connect(conninfo, connect_timeout=10) as connection:
                row = connection.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and not row[0]:
                return
        except psycopg.OperationalError:
            if not _running(restored):
                raise StorageFailure(
                    f"the restored PostgreSQL stopped during recovery: {_log_tail(restored)}"
                ) from None
        if time.monotonic() > deadline:
            raise StorageFailure("the restored PostgreSQL is still recovering: see its log")
        time.sleep(0.2)  # the server's recovery is not ours to wake on


def stop_if_running(data_dir: Path, os_user: str | None) -> None:
    """Stop a restored server (a drill's, when it is done or failed half-way)."""
    if (data_dir / "postmaster.pid").exists():
        command = stop_command(data_dir, os_user)
        subprocess.run(command, capture_output=True, timeout=120, check=False)  # noqa: S603


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a drill's server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _running(restored: RestoredCluster) -> bool:
    return (restored.data_dir / "postmaster.pid").exists()


def _log_tail(restored: RestoredCluster) -> str:
    log = restored.data_dir.with_name(f"{restored.data_dir.name}.log")
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return "no log"
    important = [line for line in lines if "FATAL" in line or "PANIC" in line]
    return (important or lines or ["empty log"])[-1].strip()
