"""The PostgreSQL part: pgBackRest, configured by Polaris, run from ``polaris backup`` commands.

Polaris does not reimplement pgBackRest: it writes its configuration (``pgbackrest.conf``, one
stanza for the instance's cluster, the repository in the backup target's ``pg/`` part), runs
``stanza-create``, ``check``, ``backup``, ``info`` and ``restore``, and reads what they say. The
server ships its WAL itself, through ``archive_command`` (``pgbackrest archive-push``), which
the server's settings must name (``polaris.backup.pgserver`` checks them; ``backup pg-setup``
sets them).

pgBackRest reads the server's data directory, so it runs on the database's machine, as the
server's OS user: ``backup.pg_os_user`` makes Polaris (running as root) run it through
``runuser``; the configuration file, its lock directory and a directory target's ``pg/`` are
given to that user, who must be able to read the file (the server's archive_command reads it).
S3 credentials are in the file (mode 0600), never on a command line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import math
import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL

from polaris.backup.pgserver import ServerFacts, postgres_url
from polaris.backup.state import state_dir
from polaris.backup.target import BackupTarget
from polaris.config import Settings
from polaris.errors import StorageFailure, ValidationFailed

CONFIG_FILE = "pgbackrest.conf"
LOCK_DIR = "pgbackrest-lock"
#: The target's part that holds the pgBackRest repository.
REPOSITORY = "pg"
DEFAULT_SOCKET_DIR = Path("/var/run/postgresql")


@dataclass(frozen=True)
class Cluster:
    """The instance's PostgreSQL cluster as pgBackRest sees it."""

    stanza: str
    url: URL
    #: None: asked from the server (:func:`data_directory`).
    data_dir: Path | None
    port: int
    socket_dir: Path
    os_user: str | None
    config_file: Path

    @property
    def lock_dir(self) -> Path:
        return self.config_file.parent / LOCK_DIR


def cluster_of(settings: Settings) -> Cluster | None:
    """The cluster of a PostgreSQL instance; None for SQLite."""
    url = postgres_url(settings.resolved_database_url)
    if url is None:
        return None
    backup = settings.backup
    host = url.query.get("host") or url.host or ""
    host = host if isinstance(host, str) else host[0]
    socket = backup.pg_socket_dir or (Path(host) if host.startswith("/") else DEFAULT_SOCKET_DIR)
    return Cluster(
        stanza=backup.pg_stanza,
        url=url,
        data_dir=backup.pg_data_dir,
        port=url.port or 5432,
        socket_dir=socket,
        os_user=backup.pg_os_user,
        config_file=(backup.pg_config_file or state_dir(settings) / CONFIG_FILE).absolute(),
    )


def data_directory(cluster: Cluster, facts: ServerFacts) -> Path:
    if cluster.data_dir is not None:
        return cluster.data_dir
    if facts.data_directory:
        return Path(facts.data_directory)
    raise ValidationFailed(
        "set backup.pg_data_dir to the server's data directory (this database role may not "
        "read data_directory)"
    )


def find_pgbackrest() -> str:
    found = shutil.which("pgbackrest")
    if found is None:
        raise StorageFailure(
            "pgbackrest not found: install it (apt-get install pgbackrest) on the database's "
            "machine"
        )
    return found


def as_os_user(user: str | None, command: list[str]) -> list[str]:
    """``command`` run as ``user`` (through runuser, which needs root), or as is."""
    if user is None or user == getpass.getuser():
        return command
    if os.geteuid() != 0:
        raise ValidationFailed(
            f"backup.pg_os_user is {user}: run this polaris command as root or as {user}"
        )
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", user, "--", *command]


def give_to(path: Path, user: str | None) -> None:
    """Make ``path`` the OS user's (when Polaris runs as root and pgBackRest as that user)."""
    if user is None or os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ValidationFailed(f"backup.pg_os_user: no OS user {user!r}") from None
    os.chown(path, entry.pw_uid, entry.pw_gid)


def archive_command(cluster: Cluster) -> str:
    """What the server's ``archive_command`` must be."""
    return (
        f"{shlex.quote(find_pgbackrest())} --config={shlex.quote(str(cluster.config_file))} "
        f"--stanza={cluster.stanza} archive-push %p"
    )


def repository_options(target: BackupTarget) -> dict[str, str]:
    """The ``repo1-*`` options for the target's ``pg/`` part."""
    if target.directory is not None:
        return {"repo1-path": str(target.directory / REPOSITORY)}
    s3 = target.s3
    assert s3 is not None
    options = {
        "repo1-type": "s3",
        "repo1-s3-bucket": s3.bucket,
        "repo1-s3-region": s3.region,
        "repo1-path": "/" + (f"{s3.prefix}/{REPOSITORY}" if s3.prefix else REPOSITORY),
    }
    if s3.endpoint:
        endpoint = urlsplit(s3.endpoint)
        if endpoint.scheme != "https" or not endpoint.hostname:
            raise ValidationFailed(
                f"backup.target endpoint {s3.endpoint}: pgBackRest reaches S3 over https only"
            )
        options["repo1-s3-endpoint"] = endpoint.hostname
        options["repo1-s3-uri-style"] = "path"
        if endpoint.port:
            options["repo1-storage-port"] = str(endpoint.port)
    else:
        options["repo1-s3-endpoint"] = f"s3.{s3.region}.amazonaws.com"
    if s3.access_key_id is None:
        options["repo1-s3-key-type"] = "auto"  # the machine's role
    else:
        secret = s3.secret_access_key
        options["repo1-s3-key"] = s3.access_key_id
        options["repo1-s3-key-secret"] = "" if secret is None else secret.get_secret_value()
    return options


def config_text(
    cluster: Cluster, data_dir: Path, target: BackupTarget, *, retention_days: float
) -> str:
    """pgbackrest.conf: the repository, time-based retention (the point-in-time window), and
    the stanza. Its log goes to the console (Polaris's log for backups, the server's log for
    archive-push), none to pgBackRest's own files."""
    options = {
        "lock-path": str(cluster.lock_dir),
        "log-level-file": "off",
        "log-level-console": "warn",
        "start-fast": "y",  # a backup starts with an immediate checkpoint
        "repo1-retention-full-type": "time",
        "repo1-retention-full": str(max(1, math.ceil(retention_days))),
        **repository_options(target),
    }
    stanza = {
        "pg1-path": str(data_dir),
        "pg1-port": str(cluster.port),
        "pg1-socket-path": str(cluster.socket_dir),
    }
    lines = ["[global]", *(f"{k}={v}" for k, v in options.items())]
    lines += ["", f"[{cluster.stanza}]", *(f"{k}={v}" for k, v in stanza.items())]
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ValidationFailed("a pgBackRest option may not contain a line break")
    return "\n".join(lines) + "\n"


def write_config(
    cluster: Cluster, text: str, target: BackupTarget, *, repository: bool = True
) -> Path:
    """Write the file (mode 0600, atomically, given to the OS user), its lock directory and
    (``repository``) a directory target's ``pg/``; unchanged text is not rewritten."""
    path = cluster.config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    cluster.lock_dir.mkdir(mode=0o700, exist_ok=True)
    give_to(cluster.lock_dir, cluster.os_user)
    if repository and target.directory is not None:
        part = target.directory / REPOSITORY
        part.mkdir(mode=0o750, parents=True, exist_ok=True)
        give_to(part, cluster.os_user)
    with contextlib.suppress(FileNotFoundError):
        if path.read_text(encoding="utf-8") == text:
            return path
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    give_to(tmp, cluster.os_user)
    os.replace(tmp, path)
    return path


def readable_by_os_user(cluster: Cluster) -> bool:
    """Whether the server's OS user can read the configuration (its archive_command must)."""
    if cluster.os_user is None:
        return True
    test = as_os_user(cluster.os_user, ["test", "-r", str(cluster.config_file)])
    return subprocess.run(test, check=False, timeout=30).returncode == 0  # noqa: S603


def command(cluster: Cluster, *args: str) -> list[str]:
    """A pgbackrest command line on the instance's configuration and stanza."""
    base = [find_pgbackrest(), f"--config={cluster.config_file}", f"--stanza={cluster.stanza}"]
    return as_os_user(cluster.os_user, [*base, *args])


def run(cluster: Cluster, *args: str, timeout: float = 600) -> str:
    """Run a short pgbackrest command; its output, or StorageFailure with its error."""
    try:
        result = subprocess.run(  # noqa: S603 (our binary, options Polaris wrote)
            command(cluster, *args), capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StorageFailure(f"pgbackrest {args[-1]}: {error}") from None
    if result.returncode != 0:
        output = (result.stderr + result.stdout).decode(errors="replace")
        raise StorageFailure(f"pgbackrest {args[-1]} failed: {error_of(output, result.returncode)}")
    return result.stdout.decode(errors="replace")


def error_of(output: str, code: int | None) -> str:
    """pgBackRest's ERROR line (with its HINT), or the exit status."""
    lines = [line.strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if "ERROR: [" in line:
            found = line[line.index("ERROR: [") :]
            if index + 1 < len(lines) and lines[index + 1].startswith("HINT:"):
                found += " " + lines[index + 1]
            return found
    return f"exit status {code}"


@dataclass(frozen=True)
class RepoBackup:
    label: str
    type: str
    started_at: dt.datetime
    stopped_at: dt.datetime


@dataclass(frozen=True)
class RepoInfo:
    """What ``pgbackrest info`` says of the stanza."""

    ok: bool
    message: str
    backups: list[RepoBackup]
    #: The newest WAL segment in the repository.
    newest_wal: str | None

    @property
    def newest(self) -> RepoBackup | None:
        return max(self.backups, key=lambda b: b.stopped_at) if self.backups else None

    def newest_of(self, kind: str) -> RepoBackup | None:
        found = [b for b in self.backups if b.type == kind]
        return max(found, key=lambda b: b.stopped_at) if found else None


def repo_info(cluster: Cluster) -> RepoInfo:
    data = json.loads(run(cluster, "--output=json", "info", timeout=120) or "[]")
    stanza = data[0] if data else {}
    status = stanza.get("status", {})
    backups = [
        RepoBackup(
            entry["label"],
            entry["type"],
            dt.datetime.fromtimestamp(entry["timestamp"]["start"], dt.UTC),
            dt.datetime.fromtimestamp(entry["timestamp"]["stop"], dt.UTC),
        )
        for entry in stanza.get("backup", [])
        if not entry.get("error")
    ]
    newest = [entry["max"] for entry in stanza.get("archive", []) if entry.get("max")]
    return RepoInfo(
        status.get("code") == 0,
        str(status.get("message", "no stanza")),
        backups,
        max(newest) if newest else None,
    )


def due_kind(
    info: RepoInfo, now: dt.datetime, *, full_every: dt.timedelta, diff_every: dt.timedelta
) -> str | None:
    """The backup due now: ``full`` when there is none or the newest is ``full_every`` old,
    ``diff`` when the newest backup of any kind is ``diff_every`` old, else None."""
    full = info.newest_of("full")
    if full is None or now - full.stopped_at >= full_every:
        return "full"
    newest = info.newest
    assert newest is not None
    return "diff" if now - newest.stopped_at >= diff_every else None
