"""Free space where the database, the logs and the blobs are written."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from polaris.doctor.findings import DoctorContext, Finding, Severity

GIB = 1024**3
#: Below these the instance is about to refuse uploads (507 storage_full).
CRITICAL_FREE_FRACTION = 0.05
CRITICAL_FREE_BYTES = 2 * GIB
WARNING_FREE_FRACTION = 0.15


class Usage(NamedTuple):
    total: int
    used: int
    free: int


#: Replaceable in tests: a full disk cannot be made on demand.
disk_usage: Callable[[Path], Usage] = lambda path: Usage(*shutil.disk_usage(path))  # noqa: E731


def check(ctx: DoctorContext) -> Iterator[Finding]:
    settings = ctx.settings
    yield measure("disk.data_dir", "data directory", settings.data_dir)
    if settings.storage.backend == "local":
        yield measure("disk.blobs", "blob store", settings.resolved_blob_path)
    else:
        yield Finding(
            "disk.blobs",
            Severity.OK,
            "blob store free space",
            "an S3 object store (its space is the store's operator's to watch)",
        )


def measure(finding_id: str, what: str, path: Path) -> Finding:
    checked = (
        f"free space of the {what} ({path}): at least {WARNING_FREE_FRACTION:.0%} "
        f"(critical below {CRITICAL_FREE_FRACTION:.0%} or {CRITICAL_FREE_BYTES // GIB} GiB)"
    )
    try:
        usage = disk_usage(path)
    except OSError as error:
        return Finding(
            finding_id, Severity.CRITICAL, checked, f"cannot measure: {error}", "check the path"
        )
    fraction = usage.free / usage.total if usage.total else 0.0
    value = f"{usage.free / GIB:.1f} GiB free of {usage.total / GIB:.1f} GiB ({fraction:.0%})"
    if fraction < CRITICAL_FREE_FRACTION or usage.free < CRITICAL_FREE_BYTES:
        return Finding(
            finding_id, Severity.CRITICAL, checked, value, "add space or move data off now"
        )
    if fraction < WARNING_FREE_FRACTION:
        return Finding(finding_id, Severity.WARNING, checked, value, "plan more space")
    return Finding(finding_id, Severity.OK, checked, value)
