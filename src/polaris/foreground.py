"""Foreground work under way in this process, and the background threads' courtesy towards it.

A message to a busy room wakes every member's long-poll at once: the answers are built in the
syncs' lane and written by the event loop, and each member's delivery waits for all of it. The
same message also wakes the event runner (its consumers: the message index's job, the
notifications) and, half a second later, the job worker (the index's commit, 20 ms of CPU).
Those threads share the interpreter's lock with the lane and the loop: every SQL statement the
lane runs gives the lock up, and while a background thread holds it the lane waits up to a
switch interval (5 ms) to get it back. At 200 members the background work that fell into the
fan-out lengthened a message's last delivery by a fifth.

So whoever starts a fan-out says so (:meth:`Foreground.busy_for`: the chat hub, when it wakes
waiting clients), and the background threads, before their next step (a runner's pass, a job),
wait until it is over (:meth:`Foreground.wait_quiet`), never longer than their bound: under a
constant stream of messages they still run, a bound late. Nothing waits for them in return.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: How long a fan-out is taken to last once it starts (its answers built and written: 30 to
#: 150 ms at 200 members on two slow cores).
FAN_OUT_SECONDS = 0.2
#: The longest a background step waits for a fan-out to end.
YIELD_AT_MOST = 0.5
#: How long the event runner, woken by a commit, lets it settle first: the commit of a message
#: wakes the hub and the runner together, and the hub must get to its waiters (and say so)
#: before the runner starts its pass (a runner's pass also takes more events at once).
RUNNER_SETTLE = 0.03


class Foreground:
    """When the latest announced foreground work is expected to be over."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._busy_until = float("-inf")
        self._lock = threading.Lock()

    def busy_for(self, seconds: float = FAN_OUT_SECONDS) -> None:
        """Foreground work starts now and takes about ``seconds``."""
        until = self._clock() + seconds
        with self._lock:
            self._busy_until = max(self._busy_until, until)

    def quiet(self) -> bool:
        return self._clock() >= self._busy_until

    def wait_quiet(
        self, *, at_most: float, at_least: float = 0.0, stop: threading.Event | None = None
    ) -> None:
        """Return once no announced foreground work is under way, after ``at_least`` seconds
        and within ``at_most`` (or at once when ``stop`` is set)."""
        stopper = stop if stop is not None else threading.Event()
        start = self._clock()
        deadline = start + at_most
        bound = time.monotonic() + at_most  # whatever the clock given does
        while True:
            now = self._clock()
            until = min(max(start + at_least, self._busy_until), deadline)
            left = min(until - now, bound - time.monotonic())
            if left <= 0 or stopper.wait(left):
                return


#: The process's one gauge.
FOREGROUND = Foreground()
