"""When ``storage verify`` and ``audit verify`` last ran, and what they found.

Every run records itself in the audit log (``storage.verify`` / ``audit.verify``): runs from the
status page (``polaris.admin.verification``) and from the command line alike, so the log is the
one place to read them from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import select

from polaris.audit.models import AuditRecord
from polaris.doctor.findings import DoctorContext, Finding, Severity, age_text

#: A verify older than this no longer vouches for the data.
MAX_AGE_DAYS = 31

_CHECKS = (
    ("verify.storage", "storage.verify", "polaris storage verify", "blob store"),
    ("verify.audit", "audit.verify", "polaris audit verify", "audit log"),
)


def check(ctx: DoctorContext) -> Iterator[Finding]:
    with ctx.read_sessions() as session:
        for finding_id, action, command, what in _CHECKS:
            last = session.execute(
                select(AuditRecord.at, AuditRecord.reason)
                .where(AuditRecord.action == action)
                .order_by(AuditRecord.id.desc())
                .limit(1)
            ).first()
            checked = f"last {command} ({what}): within {MAX_AGE_DAYS} days, no problems"
            if last is None:
                yield Finding(
                    finding_id,
                    Severity.WARNING,
                    checked,
                    "never run",
                    f"run {command} (or from the status page); schedule it monthly",
                )
                continue
            at, reason = last
            age = ctx.now - at
            value = f"{at.isoformat(timespec='seconds')} ({age_text(age)} ago)"
            if reason is not None:
                yield Finding(
                    finding_id,
                    Severity.CRITICAL,
                    checked,
                    f"{value}: found problems",
                    f"read the findings of {command} and follow docs/operations.md",
                )
            elif age > dt.timedelta(days=MAX_AGE_DAYS):
                yield Finding(
                    finding_id,
                    Severity.WARNING,
                    checked,
                    value,
                    f"run {command}; schedule it monthly",
                )
            else:
                yield Finding(finding_id, Severity.OK, checked, value)
