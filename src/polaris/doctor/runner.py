"""Every check, in the order of the report, and running them."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session, sessionmaker

from polaris.config import Settings
from polaris.doctor import accounts, backups, clock, disk, keyfiles, verifies, web
from polaris.doctor.findings import Check, DoctorContext, Finding, Severity

log = logging.getLogger("polaris.doctor")

CHECKS: dict[str, Check] = {
    "keys": keyfiles.check,
    "web": web.check,
    "accounts": accounts.check,
    "verify": verifies.check,
    "backup": backups.check,
    "disk": disk.check,
    "clock": clock.check,
}


def run(
    settings: Settings, read_sessions: sessionmaker[Session], *, now: dt.datetime
) -> list[Finding]:
    """Every finding of every check. A check that breaks is itself a critical finding: the
    report must never look clean because a check could not run."""
    ctx = DoctorContext(settings=settings, read_sessions=read_sessions, now=now)
    findings: list[Finding] = []
    for group, check in CHECKS.items():
        try:
            findings.extend(check(ctx))
        except Exception as error:  # any failure of a check must show in the report
            log.exception("doctor check %s failed", group)
            findings.append(
                Finding(
                    f"{group}.failed",
                    Severity.CRITICAL,
                    f"the {group} checks",
                    f"could not run: {type(error).__name__}: {error}",
                    "read the traceback in the log (polaris.doctor); report the error",
                )
            )
    return findings


def has_critical(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.CRITICAL for f in findings)
