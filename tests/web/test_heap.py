"""``web.heap``: a serving process freezes what it holds once started and collects its young
objects less often; an app made for tests leaves the collector alone."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from polaris.app import create_app
from polaris.instance import Instance
from polaris.web import heap


def test_settle_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    # In a process of its own: frozen objects would stay frozen for the rest of the tests.
    probe = (
        "import gc\n"
        "from polaris.web import heap\n"
        "before = gc.get_freeze_count()\n"
        "heap.settle()\n"
        "print(before, gc.get_freeze_count(), gc.get_threshold()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    before, after, young = (int(n) for n in out)
    assert before == 0
    assert after > 1_000  # the modules, classes and functions imported so far
    assert young == heap.YOUNG_THRESHOLD


@pytest.mark.parametrize("settle", [True, False])
def test_the_app_settles_its_heap_once_started_only_when_told(
    seeded: Instance, monkeypatch: pytest.MonkeyPatch, settle: bool
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(heap, "settle", lambda: calls.append("settled"))
    app = create_app(seeded, seal_periodically=False, run_jobs=False, settle_heap=settle)
    assert calls == []
    with TestClient(app):
        assert calls == (["settled"] if settle else [])
