"""What a check reports, and what it is given."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session, sessionmaker

from polaris.config import Settings


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    OK = "ok"


@dataclass(frozen=True)
class Finding:
    """One line of the report. ``id`` is stable (``keys.master_file_mode``): an auditor's
    spreadsheet can follow it from one report to the next."""

    id: str
    severity: Severity
    check: str
    value: str
    action: str = ""

    def as_json(self) -> dict[str, str]:
        return {**asdict(self), "severity": self.severity.value}


@dataclass(frozen=True)
class DoctorContext:
    """What every check may read: the settings, read-only database sessions, the time."""

    settings: Settings
    read_sessions: sessionmaker[Session]
    now: dt.datetime


Check = Callable[[DoctorContext], Iterable[Finding]]


def age_text(delta: dt.timedelta) -> str:
    """``3 days``, ``5 hours``, ``12 minutes``: an age a person reads at a glance."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"
