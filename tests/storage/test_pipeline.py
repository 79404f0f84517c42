"""The chunk pool: results in submission order, a bounded window, and malloc's thresholds."""

from __future__ import annotations

import platform
import threading

import pytest

from polaris.storage import pipeline
from polaris.storage.pipeline import IN_FLIGHT, OrderedWindow


def test_results_come_back_in_order_and_the_window_is_bounded() -> None:
    window: OrderedWindow[int] = OrderedWindow(2, results_hold_weight=True)
    release = threading.Event()

    def slow() -> int:
        release.wait(timeout=30)
        return 1

    window.submit(10, slow)
    window.submit(10, lambda: 2)
    assert window.full
    with pytest.raises(RuntimeError, match="full"):
        window.submit(10, lambda: 3)
    release.set()
    assert [window.take_oldest(), window.take_oldest()] == [1, 2]
    assert not len(window)


def test_cancel_drops_what_has_not_started_and_releases_the_count() -> None:
    before = IN_FLIGHT.current
    window: OrderedWindow[int] = OrderedWindow(pipeline.WORKERS + 1)
    release = threading.Event()
    ran: list[int] = []

    def task(number: int) -> int:
        release.wait(timeout=30)
        ran.append(number)
        return number

    for number in range(pipeline.WORKERS + 1):  # the last one waits for a free thread
        window.submit(100, lambda number=number: task(number))
    release.set()
    window.cancel()
    assert not len(window)
    assert IN_FLIGHT.current == before
    assert len(ran) <= pipeline.WORKERS + 1


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_malloc_thresholds_are_set_unless_the_operator_set_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pipeline.keep_chunk_buffers_in_heaps()
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert not pipeline.keep_chunk_buffers_in_heaps()
