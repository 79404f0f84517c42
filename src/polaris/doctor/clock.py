"""The clock: where its time comes from and how far off it is.

CERT-In's direction of April 2022 asks that logs be timed by a clock synchronised with NTP (the
NIC's or NPL's servers): a log whose times are minutes off cannot be laid beside a firewall's.
The sync state is read from what the machine runs, in this order: chrony (``chronyc tracking``),
systemd-timesyncd (``timedatectl``), ntpd (``ntpq -pn``). When none answers, the state is
"unknown", said as such: a container usually takes its clock from the host, which the doctor
cannot see. On PostgreSQL the skew between this node and the database server is measured too.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import text

from polaris.doctor.findings import DoctorContext, Finding, Severity

#: Skew above this makes log times unreliable evidence.
MAX_SKEW_SECONDS = 1.0

#: Runs a command and returns its standard output, or None when it is missing or fails.
Run = Callable[[list[str]], str | None]


@dataclass(frozen=True)
class ClockStatus:
    #: ``chrony``, ``systemd-timesyncd``, ``ntpd`` or ``unknown``.
    daemon: str
    #: The server the time comes from, when the daemon says.
    source: str | None
    synchronised: bool | None
    #: Seconds this clock is ahead of its source (negative: behind); None when not told.
    skew_seconds: float | None

    def describe(self) -> str:
        if self.daemon == "unknown":
            return "unknown (no chrony, timedatectl or ntpq answered)"
        parts = [self.daemon]
        if self.source:
            parts.append(f"source {self.source}")
        if self.synchronised is not None:
            parts.append("synchronised" if self.synchronised else "NOT synchronised")
        if self.skew_seconds is not None:
            parts.append(f"skew {self.skew_seconds:+.6f} s")
        return ", ".join(parts)


def run_command(argv: list[str]) -> str | None:
    try:
        # Fixed argument lists (chronyc, timedatectl, ntpq), looked up on PATH; no shell.
        done = subprocess.run(  # noqa: S603
            argv, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def clock_status(run: Run = run_command) -> ClockStatus:
    for reader in (_chrony, _timesyncd, _ntpd):
        status = reader(run)
        if status is not None:
            return status
    return ClockStatus("unknown", None, None, None)


def parse_chrony(output: str) -> ClockStatus:
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in output.splitlines())
        if value
    )
    reference = fields.get("Reference ID", "")
    name = re.search(r"\((.*)\)", reference)
    source = name.group(1) if name else reference or None
    skew = None
    offset = re.fullmatch(
        r"([\d.]+) seconds (fast|slow) of NTP time", fields.get("System time", "")
    )
    if offset:
        skew = float(offset.group(1)) * (1 if offset.group(2) == "fast" else -1)
    leap = fields.get("Leap status")
    synchronised = None if leap is None else leap != "Not synchronised"
    return ClockStatus("chrony", source, synchronised, skew)


def parse_ntpq(output: str) -> ClockStatus | None:
    """``ntpq -pn``: the peer marked ``*`` is the one the clock follows; offset in ms."""
    for line in output.splitlines():
        if line.startswith("*"):
            columns = line[1:].split()
            if len(columns) >= 9:
                return ClockStatus("ntpd", columns[0], True, float(columns[8]) / 1000)
    return ClockStatus("ntpd", None, False, None) if output.strip() else None


def _chrony(run: Run) -> ClockStatus | None:
    output = run(["chronyc", "-n", "tracking"])
    return None if output is None else parse_chrony(output)


def _timesyncd(run: Run) -> ClockStatus | None:
    output = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if output is None or output.strip() not in ("yes", "no"):
        return None
    server = run(["timedatectl", "show-timesync", "-p", "ServerName", "--value"])
    source = server.strip() if server and server.strip() else None
    return ClockStatus("systemd-timesyncd", source, output.strip() == "yes", None)


def _ntpd(run: Run) -> ClockStatus | None:
    output = run(["ntpq", "-pn"])
    return None if output is None else parse_ntpq(output)


#: Replaceable in tests: the machine's real clock daemon is whatever the machine runs.
status_reader: Callable[[], ClockStatus] = clock_status


def check(ctx: DoctorContext) -> Iterator[Finding]:
    yield sync_finding(status_reader())
    database = database_skew(ctx)
    if database is not None:
        yield database


def sync_finding(status: ClockStatus) -> Finding:
    checked = f"clock synchronised with NTP, skew under {MAX_SKEW_SECONDS:g} s"
    value = status.describe()
    if status.daemon == "unknown":
        return Finding(
            "clock.sync",
            Severity.WARNING,
            checked,
            value,
            "run chrony (or systemd-timesyncd) against the NIC/NPL time servers; in a "
            "container, check the host's",
        )
    if status.synchronised is False:
        return Finding(
            "clock.sync", Severity.CRITICAL, checked, value, "fix the time daemon's servers"
        )
    if status.skew_seconds is not None and abs(status.skew_seconds) > MAX_SKEW_SECONDS:
        return Finding(
            "clock.sync", Severity.CRITICAL, checked, value, "let the time daemon step the clock"
        )
    return Finding("clock.sync", Severity.OK, checked, value)


def database_skew(ctx: DoctorContext) -> Finding | None:
    """This node's clock against the PostgreSQL server's (audit times come from this node, the
    database's own defaults from the server). SQLite shares this machine's clock: nothing."""
    with ctx.read_sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            return None
        before = time.time()
        server: dt.datetime = session.execute(text("SELECT clock_timestamp()")).scalar_one()
        after = time.time()
    skew = (before + after) / 2 - server.timestamp()
    checked = f"this node's clock against the database server's: under {MAX_SKEW_SECONDS:g} s"
    value = f"{skew:+.3f} s (round trip {after - before:.3f} s)"
    if abs(skew) > MAX_SKEW_SECONDS + (after - before):
        return Finding(
            "clock.database", Severity.CRITICAL, checked, value, "synchronise both with NTP"
        )
    return Finding("clock.database", Severity.OK, checked, value)
