"""``polaris.foreground``: foreground work announced makes the background threads wait for it,
never past their bound, and never once they are asked to stop."""

from __future__ import annotations

import threading
import time

from polaris.foreground import Foreground


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_work_announced_is_under_way_until_its_time_is_over() -> None:
    clock = Clock()
    foreground = Foreground(clock)
    assert foreground.quiet()
    foreground.busy_for(0.2)
    assert not foreground.quiet()
    clock.now += 0.1
    foreground.busy_for(0.05)  # a shorter one does not cut the first short
    clock.now += 0.09
    assert not foreground.quiet()
    clock.now += 0.01
    assert foreground.quiet()


def test_a_background_step_waits_until_the_work_is_over() -> None:
    foreground = Foreground()
    before = time.monotonic()
    foreground.busy_for(0.2)
    foreground.wait_quiet(at_most=30.0)
    assert time.monotonic() - before >= 0.2
    assert foreground.quiet()


def test_it_never_waits_past_its_bound_nor_once_asked_to_stop() -> None:
    foreground = Foreground()
    foreground.busy_for(3600.0)
    before = time.monotonic()
    foreground.wait_quiet(at_most=0.05)  # returns: the bound, not the hour
    stop = threading.Event()
    stop.set()
    foreground.wait_quiet(at_most=3600.0, stop=stop)  # returns at once
    assert time.monotonic() - before < 30.0  # a generous bound: an hour would be the bug
    assert not foreground.quiet()


def test_a_clock_that_stands_still_cannot_hold_a_wait_past_its_bound() -> None:
    foreground = Foreground(clock=lambda: 0.0)
    foreground.busy_for(10.0)
    before = time.monotonic()
    foreground.wait_quiet(at_most=0.05)
    assert time.monotonic() - before < 30.0


def test_a_pause_asked_for_is_kept_even_when_nothing_is_under_way() -> None:
    foreground = Foreground()
    before = time.monotonic()
    foreground.wait_quiet(at_least=0.05, at_most=30.0)
    assert time.monotonic() - before >= 0.05
