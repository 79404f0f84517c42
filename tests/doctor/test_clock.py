from __future__ import annotations

from collections.abc import Callable

from polaris.doctor import clock
from polaris.doctor.findings import DoctorContext, Severity

CHRONY = """Reference ID    : A29FC87B (time.nplindia.org)
Stratum         : 3
Ref time (UTC)  : Sun Dec 06 09:12:01 2026
System time     : 0.000123456 seconds slow of NTP time
Last offset     : -0.000012 seconds
Leap status     : Normal
"""

NTPQ = """     remote           refid      st t when poll reach   delay   offset  jitter
==============================================================================
*14.139.60.103   .GPS.            1 u   33   64  377    1.234   2500.5   0.100
+10.0.0.2        14.139.60.103    2 u   12   64  377    0.500    0.100   0.050
"""


def test_chrony_tracking_gives_the_source_and_skew() -> None:
    status = clock.parse_chrony(CHRONY)
    assert status.daemon == "chrony" and status.source == "time.nplindia.org"
    assert status.synchronised is True
    assert status.skew_seconds is not None and abs(status.skew_seconds + 0.000123456) < 1e-12
    assert clock.sync_finding(status).severity is Severity.OK


def test_an_unsynchronised_chrony_is_critical() -> None:
    status = clock.parse_chrony(CHRONY.replace("Normal", "Not synchronised"))
    assert clock.sync_finding(status).severity is Severity.CRITICAL


def test_ntpq_skew_over_a_second_is_critical() -> None:
    status = clock.parse_ntpq(NTPQ)
    assert status is not None and status.source == "14.139.60.103"
    assert status.skew_seconds == 2.5005
    assert clock.sync_finding(status).severity is Severity.CRITICAL


def test_the_first_daemon_that_answers_is_used_and_none_is_unknown() -> None:
    answers = {"timedatectl show": "yes\n", "timedatectl show-timesync": "ntp.nic.in\n"}

    def run(argv: list[str]) -> str | None:
        return answers.get(" ".join(argv[:2]))

    status = clock.clock_status(run)
    assert (status.daemon, status.source, status.synchronised) == (
        "systemd-timesyncd",
        "ntp.nic.in",
        True,
    )
    nothing = clock.clock_status(lambda argv: None)
    assert nothing.daemon == "unknown"
    finding = clock.sync_finding(nothing)
    assert finding.severity is Severity.WARNING and finding.value.startswith("unknown")


def test_this_machine_is_read_without_failing(make_ctx: Callable[..., DoctorContext]) -> None:
    findings = list(clock.check(make_ctx()))
    assert findings[0].id == "clock.sync"
    for finding in findings[1:]:  # PostgreSQL: the database server's clock, the same machine
        assert finding.id == "clock.database" and finding.severity is Severity.OK
