"""The master key and the audit signing key: files only their owner may read."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from polaris.doctor.findings import DoctorContext, Finding, Severity


def check(ctx: DoctorContext) -> Iterator[Finding]:
    settings = ctx.settings
    yield _key_file(
        "keys.master_file_mode",
        "master key file",
        settings.resolved_master_key_file,
        from_environment=settings.master_key is not None,
        variable="POLARIS_MASTER_KEY",
    )
    yield _key_file(
        "keys.audit_file_mode",
        "audit signing key file",
        settings.resolved_audit_key_file,
        from_environment=settings.audit_key is not None,
        variable="POLARIS_AUDIT_KEY",
    )


def _key_file(
    finding_id: str, what: str, path: Path, *, from_environment: bool, variable: str
) -> Finding:
    checked = f"{what} {path}: mode 0600 or stricter, a regular file"
    if from_environment:
        return Finding(finding_id, Severity.OK, checked, f"key taken from {variable}")
    try:
        info = path.lstat()
    except FileNotFoundError:
        return Finding(
            finding_id,
            Severity.CRITICAL,
            checked,
            "missing",
            f"restore the key from its offline copy, or set {variable}",
        )
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        return Finding(
            finding_id,
            Severity.CRITICAL,
            checked,
            "not a regular file",
            "replace it with the key file itself (no link)",
        )
    if mode & 0o077:
        return Finding(
            finding_id,
            Severity.CRITICAL,
            checked,
            f"mode {mode:04o}",
            f"chmod 600 {path}",
        )
    return Finding(finding_id, Severity.OK, checked, f"mode {mode:04o}")
