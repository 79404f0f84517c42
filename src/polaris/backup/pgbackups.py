"""pgBackRest's share of ``polaris backup run``, ``backup status`` and ``backup pg-setup``.

``backup run`` checks the server's archiving settings and the repository once a minute, and
starts ``pgbackrest backup`` in the background when one is due (a full one every
``backup.pg_full_every_days``, a differential one every ``backup.pg_diff_every_hours``): a full
backup of a large database takes hours, and the blob passes go on meanwhile. A failed backup is
logged, recorded in ``state.json`` (section ``pgbackrest``) and tried again after ten minutes.

The lag (:func:`database_part`) is the WAL's: a restore reaches as far as the archived WAL, and
the base backups only make it faster. Everything is archived up to "now" when the segment being
written is not newer than the last archived one, or when the newest commit is not newer than the
last archiving; otherwise up to the last archiving (slightly generous: by the few milliseconds
pgBackRest takes to push a segment).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from polaris.backup import pgbackrest, pgserver
from polaris.backup.pgbackrest import Cluster, RepoInfo
from polaris.backup.pgserver import ServerFacts
from polaris.backup.state import read_state, update_state
from polaris.backup.target import BackupTarget
from polaris.config import Settings
from polaris.errors import PolarisError, StorageFailure, ValidationFailed

log = logging.getLogger("polaris.backup")

STATE = "pgbackrest"
LOG_FILE = "pgbackrest.log"
#: How often ``backup run`` looks at the server and the repository.
CHECK_SECONDS = 60.0
#: A failed backup is tried again after this long.
RETRY_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 60.0


def cluster_for(settings: Settings) -> Cluster:
    cluster = pgbackrest.cluster_of(settings)
    if cluster is None:
        raise ValidationFailed(
            "the database is SQLite: its backup is Litestream's (polaris backup run), there is "
            "no PostgreSQL to set up"
        )
    return cluster


def prepare(settings: Settings, cluster: Cluster, target: BackupTarget) -> ServerFacts:
    """Read the server, write pgbackrest.conf; the facts read."""
    facts = pgserver.read_facts(cluster.url)
    data_dir = pgbackrest.data_directory(cluster, facts)
    text = pgbackrest.config_text(
        cluster, data_dir, target, retention_days=settings.backup.retention_days
    )
    pgbackrest.write_config(cluster, text, target)
    return facts


def server_problems(settings: Settings, cluster: Cluster, facts: ServerFacts) -> list[str]:
    command = pgbackrest.archive_command(cluster)
    return pgserver.problems(facts, command, settings.backup.pg_archive_timeout_seconds)


@dataclass
class SetupReport:
    config_file: Path
    archive_command: str
    problems: list[str]
    #: The settings that differ, as they must be (for postgresql.conf when not applied).
    wanted: dict[str, str] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)
    #: Why the settings were not applied (None: applied, or nothing to apply).
    not_applied: str | None = None
    remaining: list[str] = field(default_factory=list)
    checked: bool = False


def setup(settings: Settings, target: BackupTarget, *, apply: bool) -> SetupReport:
    """``backup pg-setup``: the configuration, the server's settings (set where Polaris may and
    ``apply``), the stanza, and ``pgbackrest check`` once nothing is missing."""
    cluster = cluster_for(settings)
    facts = prepare(settings, cluster, target)
    if not pgbackrest.readable_by_os_user(cluster):
        raise ValidationFailed(
            f"{cluster.os_user} (the server's OS user) cannot read {cluster.config_file}: set "
            "backup.pg_config_file to a path it can read (such as /etc/pgbackrest/polaris.conf)"
        )
    command = pgbackrest.archive_command(cluster)
    timeout = settings.backup.pg_archive_timeout_seconds
    report = SetupReport(cluster.config_file, command, server_problems(settings, cluster, facts))
    if report.problems:
        wanted = {
            name: value
            for name, value in pgserver.wanted_settings(command, timeout).items()
            if facts.settings.get(name) != value or name in facts.pending_restart
        }
        if facts.settings.get("wal_level") == "minimal":
            wanted["wal_level"] = "replica"
        report.wanted = wanted
        if not apply:
            report.not_applied = "--dry-run"
        elif not facts.superuser:
            report.not_applied = "the database role is not a superuser"
        else:
            report.applied = pgserver.apply_settings(cluster.url, wanted)
            facts = pgserver.read_facts(cluster.url)
    report.remaining = server_problems(settings, cluster, facts)
    pgbackrest.run(cluster, "stanza-create")
    if not report.remaining:
        pgbackrest.run(cluster, "check", timeout=300)
        report.checked = True
    return report


class PgBackups:
    """The base backups of ``backup run``: due ones started, watched, stopped with it."""

    def __init__(self, settings: Settings, target: BackupTarget, directory: Path) -> None:
        self.settings = settings
        self.target = target
        self.directory = directory
        self.cluster = cluster_for(settings)
        self.process: subprocess.Popen[bytes] | None = None
        self.kind: str | None = None
        self._next_check = 0.0
        self._stanza_ready = False
        self._last_problem: str | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        pgbackrest.find_pgbackrest()  # missing: fail at once, not in a minute
        self._next_check = 0.0

    def keep_running(self, now: dt.datetime) -> None:
        """Collect a finished backup; start one when due (looked at once a minute)."""
        if self.process is not None:
            if self.process.poll() is None:
                return
            self._finished(now)
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + CHECK_SECONDS
        try:
            kind = self._due(now)
        except PolarisError as error:
            if error.detail != self._last_problem:
                log.error("PostgreSQL backup: %s", error.detail)
            self._last_problem = error.detail
            return
        self._last_problem = None
        if kind is not None:
            self._start_backup(kind, now)

    def _due(self, now: dt.datetime) -> str | None:
        facts = prepare(self.settings, self.cluster, self.target)
        found = server_problems(self.settings, self.cluster, facts)
        if found:
            raise ValidationFailed(
                "the server does not archive WAL to pgBackRest: "
                + "; ".join(found)
                + " (polaris backup pg-setup)"
            )
        if not self._stanza_ready:
            pgbackrest.run(self.cluster, "stanza-create")
            self._stanza_ready = True
        backup = self.settings.backup
        return pgbackrest.due_kind(
            pgbackrest.repo_info(self.cluster),
            now,
            full_every=dt.timedelta(days=backup.pg_full_every_days),
            diff_every=dt.timedelta(hours=backup.pg_diff_every_hours),
        )

    def _start_backup(self, kind: str, now: dt.datetime) -> None:
        if self._log is None:
            self._log = (self.directory / LOG_FILE).open("ab")
        self._log_offset = self._log.tell()
        args = pgbackrest.command(self.cluster, f"--type={kind}", "--log-level-console=info")
        self.process = subprocess.Popen(  # noqa: S603 (our binary, options Polaris wrote)
            [*args, "backup"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stop() ends runuser and pgbackrest alike
        )
        self.kind = kind
        log.info("pgbackrest %s backup started (pid %d)", kind, self.process.pid)
        update_state(
            self.directory, STATE, {"type": kind, "started_at": now.isoformat(), "running": True}
        )

    def _finished(self, now: dt.datetime) -> None:
        assert self.process is not None
        code, kind = self.process.returncode, self.kind
        self.process, self.kind = None, None
        error = None
        if code != 0:
            with (self.directory / LOG_FILE).open("rb") as handle:
                handle.seek(self._log_offset)
                error = pgbackrest.error_of(handle.read().decode(errors="replace"), code)
            log.error("pgbackrest %s backup failed: %s (see %s)", kind, error, LOG_FILE)
            self._next_check = time.monotonic() + RETRY_SECONDS
        else:
            log.info("pgbackrest %s backup done", kind)
            self._next_check = 0.0
        state = read_state(self.directory).get(STATE, {})
        state.update({"finished_at": now.isoformat(), "running": False, "error": error})
        update_state(self.directory, STATE, state)

    def stop(self) -> None:
        """SIGTERM to the backup under way (pgBackRest resumes it next time), SIGKILL if slow."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass(frozen=True)
class PgPart:
    covered_at: dt.datetime | None
    ok: bool
    detail: str


def covered_at(facts: ServerFacts, now: dt.datetime) -> dt.datetime | None:
    """Every commit up to the time returned is in archived WAL (see the module docstring)."""
    archived_at = facts.last_archived_at
    if archived_at is None:
        return None
    segment = facts.archived_segment
    current = facts.current_segment
    if segment is not None and current is not None and current <= segment:
        return now
    if facts.last_commit_at is not None and facts.last_commit_at <= archived_at:
        return now
    return archived_at


def database_part(
    settings: Settings, target: BackupTarget, directory: Path, *, now: dt.datetime
) -> PgPart:
    """The database part of ``backup status`` on PostgreSQL."""
    cluster = cluster_for(settings)
    try:
        facts = pgserver.read_facts(cluster.url)
        found = server_problems(settings, cluster, facts)
    except (StorageFailure, ValidationFailed) as error:
        return PgPart(None, False, error.detail)
    covered = covered_at(facts, now)
    if facts.last_archived_at is None:
        found.append("no WAL archived yet")
    elif facts.last_failed_at is not None and facts.last_failed_at > facts.last_archived_at:
        found.append(
            f"archiving fails since {facts.last_failed_at.isoformat(timespec='seconds')} "
            f"({facts.last_failed_wal}; PostgreSQL's log says why)"
        )
    info = _info(cluster, found)
    if info is not None:
        found += _backup_problems(settings, facts, info, directory, now)
    if found:
        return PgPart(covered, False, "; ".join(found))
    newest = info.newest if info is not None else None
    assert facts.last_archived_at is not None and newest is not None
    detail = (
        f"WAL archived up to {facts.last_archived_wal} at "
        f"{facts.last_archived_at.isoformat(timespec='seconds')}; newest backup {newest.label} "
        f"({newest.type}, {_age(now - newest.stopped_at)} old)"
    )
    lag = None if covered is None else now - covered
    ok = lag is not None and lag.total_seconds() <= settings.backup.max_lag_seconds
    return PgPart(covered, ok, detail)


def _info(cluster: Cluster, found: list[str]) -> RepoInfo | None:
    if not cluster.config_file.is_file():
        found.append(
            f"no pgBackRest configuration at {cluster.config_file} (polaris backup pg-setup)"
        )
        return None
    try:
        return pgbackrest.repo_info(cluster)
    except (StorageFailure, ValidationFailed) as error:
        found.append(error.detail)
        return None


def _backup_problems(
    settings: Settings, facts: ServerFacts, info: RepoInfo, directory: Path, now: dt.datetime
) -> list[str]:
    found = []
    if not info.ok:
        found.append(f"pgBackRest repository: {info.message}")
    segment = facts.archived_segment
    if segment and (info.newest_wal is None or info.newest_wal < segment):
        found.append(
            f"{segment} is archived but not in the pgBackRest repository (is archive_command "
            "someone else's?)"
        )
    newest = info.newest
    overdue = dt.timedelta(hours=2 * settings.backup.pg_diff_every_hours)
    if newest is None:
        found.append("no base backup yet (polaris backup run takes one)")
    elif now - newest.stopped_at > overdue:
        found.append(f"the newest base backup is {_age(now - newest.stopped_at)} old")
    attempt = read_state(directory).get(STATE, {})
    if attempt.get("error"):
        found.append(f"the last {attempt.get('type')} backup failed: {attempt['error']}")
    return found


def _age(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
