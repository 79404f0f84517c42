from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from polaris.doctor import disk
from polaris.doctor.findings import DoctorContext, Severity
from tests.doctor.conftest import severity_of

GIB = disk.GIB


@pytest.mark.parametrize(
    ("free", "expected"),
    [(50 * GIB, Severity.OK), (10 * GIB, Severity.WARNING), (1 * GIB, Severity.CRITICAL)],
)
def test_free_space_thresholds(
    make_ctx: Callable[..., DoctorContext],
    monkeypatch: pytest.MonkeyPatch,
    free: int,
    expected: Severity,
) -> None:
    def usage(path: Path) -> disk.Usage:
        return disk.Usage(100 * GIB, 100 * GIB - free, free)

    monkeypatch.setattr(disk, "disk_usage", usage)
    findings = list(disk.check(make_ctx()))
    assert severity_of(findings, "disk.data_dir") is expected
    assert severity_of(findings, "disk.blobs") is expected


def test_the_real_data_directory_is_measured_and_a_missing_one_is_critical(
    make_ctx: Callable[..., DoctorContext], tmp_path: Path
) -> None:
    real = disk.measure("disk.data_dir", "data directory", tmp_path)
    assert "GiB free of" in real.value
    missing = disk.measure("disk.blobs", "blob store", tmp_path / "nowhere")
    assert missing.severity is Severity.CRITICAL and "cannot measure" in missing.value
