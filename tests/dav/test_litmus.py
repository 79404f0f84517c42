"""Debian's ``litmus`` WebDAV test suite, every suite, against a real ``polaris serve``: on the
embedded shape (SQLite) and on PostgreSQL (a schema of its own, dropped afterwards)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dav.conftest import Dav, serving_on

SUITES = ("basic", "copymove", "props", "locks", "http")
SUMMARY = re.compile(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed")


@pytest.mark.slow
def test_litmus_passes_every_suite(dav: Dav, tmp_path: Path) -> None:
    run_litmus(dav, tmp_path)


@pytest.mark.slow
def test_litmus_passes_every_suite_on_postgresql(tmp_path: Path) -> None:
    with serving_on("postgresql", tmp_path / "instance", "dav") as running:
        run_litmus(running, tmp_path)


def run_litmus(dav: Dav, tmp_path: Path) -> None:
    litmus = shutil.which("litmus")
    assert litmus is not None, "litmus is not installed (scripts/test.sh installs it)"
    url = f"http://127.0.0.1:{dav.server.port}/dav/hc.a1/"
    run = subprocess.run(
        [litmus, url, "hc.a1", dav.secrets["hc.a1"]],
        env={"TESTS": " ".join(SUITES), "PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summaries = {m[0]: (int(m[1]), int(m[2]), int(m[3])) for m in SUMMARY.findall(run.stdout)}
    assert set(summaries) == set(SUITES), run.stdout[-3000:]
    failed = {suite: counts for suite, counts in summaries.items() if counts[2] or not counts[0]}
    assert not failed, run.stdout[-3000:]
    assert run.returncode == 0, run.stdout[-3000:]
