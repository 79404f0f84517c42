from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from polaris.doctor import backups
from polaris.doctor.findings import DoctorContext, Severity
from tests.doctor.conftest import by_id


@pytest.fixture(autouse=True)
def no_source() -> Iterator[None]:
    yield
    backups.use_source(None)


def test_without_backups_both_findings_are_critical(
    make_ctx: Callable[..., DoctorContext],
) -> None:
    found = by_id(backups.check(make_ctx()))
    assert found["backup.lag"].severity is Severity.CRITICAL
    assert found["backup.lag"].value == "not configured"
    assert found["backup.drill"].severity is Severity.CRITICAL


def test_a_plugged_in_source_is_judged_by_its_ages(
    make_ctx: Callable[..., DoctorContext],
) -> None:
    ctx = make_ctx()
    fresh = backups.BackupStatus(ctx.now - dt.timedelta(seconds=20), ctx.now - dt.timedelta(days=6))
    backups.use_source(lambda _ctx: fresh)
    found = by_id(backups.check(ctx))
    assert {f.severity for f in found.values()} == {Severity.OK}
    # The recovery point objective is a minute: ten minutes behind is critical, as in status.
    stale = backups.BackupStatus(ctx.now - dt.timedelta(minutes=10), None)
    backups.use_source(lambda _ctx: stale)
    found = by_id(backups.check(ctx))
    assert found["backup.lag"].severity is Severity.CRITICAL
    assert found["backup.drill"].value == "never"


def test_an_old_drill_is_a_warning_and_a_failed_one_critical(
    make_ctx: Callable[..., DoctorContext],
) -> None:
    ctx = make_ctx()
    backed_up = ctx.now - dt.timedelta(seconds=30)
    old = backups.BackupStatus(backed_up, ctx.now - dt.timedelta(days=8), last_drill_ok=True)
    backups.use_source(lambda _ctx: old)
    assert by_id(backups.check(ctx))["backup.drill"].severity is Severity.WARNING
    failed = backups.BackupStatus(backed_up, ctx.now - dt.timedelta(hours=1), last_drill_ok=False)
    backups.use_source(lambda _ctx: failed)
    finding = by_id(backups.check(ctx))["backup.drill"]
    assert finding.severity is Severity.CRITICAL and finding.value.startswith("failed")


def test_the_lag_limit_is_the_one_the_source_gives(make_ctx: Callable[..., DoctorContext]) -> None:
    ctx = make_ctx()
    behind = ctx.now - dt.timedelta(minutes=10)
    lenient = backups.BackupStatus(behind, ctx.now, max_lag=dt.timedelta(hours=1))
    backups.use_source(lambda _ctx: lenient)
    assert by_id(backups.check(ctx))["backup.lag"].severity is Severity.OK
