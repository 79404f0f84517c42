"""What ``polaris backup status`` and ``polaris doctor`` say: each part's lag, and whether the
backup runs at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from polaris.backup.drills import Drill, Escrow, escrow, last_drill
from polaris.backup.litestream import DatabaseStatus, database_status
from polaris.backup.pgbackrest import cluster_of
from polaris.backup.pgbackups import database_part
from polaris.backup.replicate import BlobStatus, blob_status
from polaris.backup.runner import running_pid
from polaris.backup.state import state_dir
from polaris.backup.target import BackupTarget, target_of
from polaris.config import Settings


@dataclass(frozen=True)
class Part:
    """One part of the backup as reported: ``covered_at`` is the time up to which everything of
    it is at the target; ``lag`` is ``now - covered_at`` (the age of the oldest change that may
    not be there yet)."""

    name: str
    covered_at: dt.datetime | None
    lag: dt.timedelta | None
    ok: bool
    detail: str
    #: False for a part that is a condition, not a lag (the S3 target's object lock).
    timed: bool = True


@dataclass(frozen=True)
class BackupReport:
    target: str | None
    running_pid: int | None
    parts: list[Part]
    max_lag: dt.timedelta
    escrow: Escrow | None = None
    last_drill: Drill | None = None

    @property
    def configured(self) -> bool:
        return self.target is not None

    @property
    def ok(self) -> bool:
        """Every part within the lag, and ``polaris backup run`` running (else the lag grows)."""
        return (
            self.configured and self.running_pid is not None and all(part.ok for part in self.parts)
        )

    @property
    def complete(self) -> bool:
        """Current (:attr:`ok`) and restorable: an escrow copy of the master key is confirmed
        (the backup holds no key; without one it restores nothing)."""
        return self.ok and self.escrow is not None

    @property
    def covered_at(self) -> dt.datetime | None:
        """The newest time up to which every part is at the target (None: some part never)."""
        times = [part.covered_at for part in self.parts if part.timed]
        if not times or any(at is None for at in times):
            return None
        return min(at for at in times if at is not None)


def backup_report(settings: Settings, *, now: dt.datetime) -> BackupReport:
    max_lag = dt.timedelta(seconds=settings.backup.max_lag_seconds)
    if not settings.backup.target:
        return BackupReport(None, None, [], max_lag)
    target = target_of(settings.backup)
    directory = state_dir(settings)
    parts = [
        _blob_part(blob_status(directory), now, max_lag),
        _database_part(settings, target, now, max_lag),
    ]
    lock = target.lock_status()
    if lock is not None:
        parts.append(Part("target lock", None, None, lock.ok, lock.detail, timed=False))
    return BackupReport(
        target.where,
        running_pid(directory),
        parts,
        max_lag,
        escrow(directory),
        last_drill(directory),
    )


def _blob_part(status: BlobStatus, now: dt.datetime, max_lag: dt.timedelta) -> Part:
    covered = (
        None if status.covered_at is None else dt.datetime.fromtimestamp(status.covered_at, dt.UTC)
    )
    lag = None if covered is None else max(dt.timedelta(0), now - covered)
    detail = "no complete pass yet" if covered is None else "every object listed then is copied"
    if status.last_pass and status.last_pass.get("differing"):
        detail = f"{status.last_pass['differing']} object(s) differ at the target (look at them)"
    if status.last_error:
        detail = f"last pass failed: {status.last_error}"
    ok = lag is not None and lag <= max_lag and not status.last_error
    ok = ok and not (status.last_pass or {}).get("differing")
    return Part("blobs", covered, lag, ok, detail)


def _database_part(
    settings: Settings, target: BackupTarget, now: dt.datetime, max_lag: dt.timedelta
) -> Part:
    if cluster_of(settings) is not None:
        postgres = database_part(settings, target, state_dir(settings), now=now)
        covered = postgres.covered_at
        lag = None if covered is None else max(dt.timedelta(0), now - covered)
        ok = postgres.ok and lag is not None and lag <= max_lag
        return Part("database", covered, lag, ok, postgres.detail)
    status: DatabaseStatus = database_status(settings, target, state_dir(settings), now=now)
    lag = status.lag(now)
    if status.error is not None:
        detail = status.error
    elif status.newest_replicated_at is None:
        detail = "nothing replicated yet"
    else:
        detail = (
            f"newest replicated transaction {status.newest_txid} at "
            f"{status.newest_replicated_at.isoformat(timespec='seconds')}"
        )
    ok = status.error is None and lag is not None and lag <= max_lag
    return Part("database", status.covered_at, lag, ok, detail)
