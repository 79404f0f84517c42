"""Backups: how far behind the newest backup is, and when a restore was last drilled.

Until the backup package plugs a source in (:func:`use_source`, called where the CLI is put
together, when ``backup.target`` is set), the check reports "not configured" as a critical
finding: an instance without a backup is one ransomware attack from losing everything. A restore
never drilled is critical; a drill older than a week is a warning, a failed one critical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from polaris.doctor.findings import DoctorContext, Finding, Severity, age_text

#: How far behind the backup may be when the source does not say (``backup.max_lag_seconds``,
#: the RPO target, is what the CLI's source passes: one minute, the same as ``backup status``).
MAX_LAG = dt.timedelta(seconds=60)
#: A restore not drilled for this long may not work when it is needed.
MAX_DRILL_AGE = dt.timedelta(days=7)


@dataclass(frozen=True)
class BackupStatus:
    last_backup_at: dt.datetime | None
    last_drill_at: dt.datetime | None
    #: The last drill's outcome (None: unknown, or never drilled).
    last_drill_ok: bool | None = None
    #: The lag beyond which the backup misses its recovery point objective.
    max_lag: dt.timedelta = MAX_LAG


BackupSource = Callable[[DoctorContext], BackupStatus]

_source: list[BackupSource] = []


def use_source(source: BackupSource | None) -> None:
    """Plug in (or, with ``None``, take out) where the backup status comes from."""
    _source[:] = [] if source is None else [source]


def check(ctx: DoctorContext) -> Iterator[Finding]:
    status = _source[0](ctx) if _source else None
    max_lag = MAX_LAG if status is None else status.max_lag
    lag_checked = f"backup lag: everything is at the target up to {age_text(max_lag)} ago"
    drill_checked = f"restore drill: within {age_text(MAX_DRILL_AGE)}"
    if status is None:
        for finding_id, checked in (("backup.lag", lag_checked), ("backup.drill", drill_checked)):
            yield Finding(
                finding_id,
                Severity.CRITICAL,
                checked,
                "not configured",
                "set up backups to another site and drill a restore (docs/operations.md)",
            )
        return
    yield _age_finding(
        "backup.lag", lag_checked, status.last_backup_at, max_lag, ctx.now, "no backup yet"
    )
    yield _drill_finding(drill_checked, status, ctx.now)


def _drill_finding(checked: str, status: BackupStatus, now: dt.datetime) -> Finding:
    at = status.last_drill_at
    if at is None:
        return Finding("backup.drill", Severity.CRITICAL, checked, "never", "run one now")
    value = f"{at.isoformat(timespec='seconds')} ({age_text(now - at)} ago)"
    if status.last_drill_ok is False:
        return Finding(
            "backup.drill",
            Severity.CRITICAL,
            checked,
            f"failed {value}",
            "see polaris backup status; fix the backup and drill again",
        )
    if now - at > MAX_DRILL_AGE:
        return Finding("backup.drill", Severity.WARNING, checked, value, "polaris backup drill")
    return Finding("backup.drill", Severity.OK, checked, value)


def _age_finding(
    finding_id: str,
    checked: str,
    at: dt.datetime | None,
    limit: dt.timedelta,
    now: dt.datetime,
    missing: str,
) -> Finding:
    if at is None:
        return Finding(finding_id, Severity.CRITICAL, checked, missing, "run one now")
    value = f"{at.isoformat(timespec='seconds')} ({age_text(now - at)} ago)"
    if now - at > limit:
        return Finding(finding_id, Severity.CRITICAL, checked, value, "find why it stopped")
    return Finding(finding_id, Severity.OK, checked, value)
