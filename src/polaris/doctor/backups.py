"""Backups: how far behind the newest backup is, and when a restore was last drilled.

Backups are not built yet. Until their package plugs a source in (:func:`use_source`, called
where the app and the CLI are put together), the check reports "not configured" as a critical
finding: an instance without a backup is one ransomware attack from losing everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from polaris.doctor.findings import DoctorContext, Finding, Severity, age_text

#: The newest backup may be this old before the lag is a finding.
MAX_LAG = dt.timedelta(hours=26)
#: A restore not drilled for this long may not work when it is needed.
MAX_DRILL_AGE = dt.timedelta(days=92)


@dataclass(frozen=True)
class BackupStatus:
    last_backup_at: dt.datetime | None
    last_drill_at: dt.datetime | None


BackupSource = Callable[[DoctorContext], BackupStatus]

_source: list[BackupSource] = []


def use_source(source: BackupSource | None) -> None:
    """Plug in (or, with ``None``, take out) where the backup status comes from."""
    _source[:] = [] if source is None else [source]


def check(ctx: DoctorContext) -> Iterator[Finding]:
    lag_checked = f"backup lag: the newest backup is younger than {age_text(MAX_LAG)}"
    drill_checked = f"restore drill: within {age_text(MAX_DRILL_AGE)}"
    if not _source:
        for finding_id, checked in (("backup.lag", lag_checked), ("backup.drill", drill_checked)):
            yield Finding(
                finding_id,
                Severity.CRITICAL,
                checked,
                "not configured",
                "set up backups to another site and drill a restore (docs/operations.md)",
            )
        return
    status = _source[0](ctx)
    yield _age_finding(
        "backup.lag", lag_checked, status.last_backup_at, MAX_LAG, ctx.now, "no backup yet"
    )
    yield _age_finding(
        "backup.drill", drill_checked, status.last_drill_at, MAX_DRILL_AGE, ctx.now, "never"
    )


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
