"""``polaris backup run``: Litestream (SQLite) or pgBackRest's base backups (PostgreSQL) and the
blob replicator, side by side, until stopped.

One process per instance: a lock on ``DATA_DIR/backup/run.lock`` keeps a second one from starting
(two replicators would only do the work twice; two Litestreams on one database would fight), and
tells ``polaris backup status`` whether backups are running at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from polaris import clock
from polaris.backup.litestream import Supervisor, sqlite_path
from polaris.backup.pgbackrest import cluster_of
from polaris.backup.pgbackups import PgBackups
from polaris.backup.replicate import BlobReplicator, PassReport
from polaris.backup.restore import save_config
from polaris.backup.state import state_dir
from polaris.backup.target import backup_target
from polaris.config import Settings
from polaris.errors import Conflict, PolarisError
from polaris.storage.backends import open_backend

log = logging.getLogger("polaris.backup")

LOCK_FILE = "run.lock"


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Held while ``polaris backup run`` runs; Conflict if another process holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(
                f"polaris backup run is already running for {directory.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def running_pid(directory: Path) -> int | None:
    """The pid of the ``polaris backup run`` holding the lock, or None if none runs."""
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text(encoding="ascii", errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def blob_replicator(settings: Settings) -> BlobReplicator:
    backup = settings.backup
    return BlobReplicator(
        open_backend(settings),
        backup_target(settings).blob_backend(),
        state_dir=state_dir(settings),
        overlap_seconds=backup.overlap_seconds,
        full_every_seconds=backup.full_pass_hours * 3600,
    )


def run(
    settings: Settings,
    *,
    stop: threading.Event,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Replicate until ``stop`` is set: Litestream (SQLite) kept running in the background, or
    pgBackRest's base backups (PostgreSQL: the server archives its WAL itself) started when due,
    a blob pass every ``backup.blob_interval_seconds``. A failed pass is logged (and recorded
    in the state file, where ``backup status`` shows it); the next one tries again."""
    target = backup_target(settings)
    directory = state_dir(settings)
    replicator = blob_replicator(settings)
    database = sqlite_path(settings)
    with run_lock(directory):
        lock = target.lock_status()
        if lock is not None and not lock.ok:
            log.error("the backup target %s is not protected: %s", target.where, lock.detail)
        # The settings travel with the backup: a restore on a new machine has nothing else.
        try:
            save_config(settings, target, now=clock.utcnow())
        except PolarisError as error:
            log.error("could not leave the settings at %s: %s", target.where, error.detail)
        supervisor = None
        postgres = None
        if database is not None:
            supervisor = Supervisor(settings, target, database, directory)
            supervisor.start()
        elif cluster_of(settings) is not None:
            postgres = PgBackups(settings, target, directory)
            postgres.start()
        else:
            log.warning("the database is neither SQLite nor PostgreSQL: only blobs are backed up")
        try:
            while not stop.is_set():
                if supervisor is not None:
                    supervisor.keep_running()
                if postgres is not None:
                    postgres.keep_running(clock.utcnow())
                try:
                    report = replicator.run_pass()
                except PolarisError as error:
                    log.error("blob replication to %s failed: %s", target.where, error.detail)
                else:
                    if on_pass is not None:
                        on_pass(report)
                stop.wait(settings.backup.blob_interval_seconds)
        finally:
            if supervisor is not None:
                supervisor.stop()
            if postgres is not None:
                postgres.stop()
