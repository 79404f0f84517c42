"""Letting the jobs of a batched kind gather before a background worker runs them.

A batch handler (``jobs.batch_handler``) has a fixed cost a pass: the search index's commit cost
6 to 8 ms of CPU whether it held one document or ten (ten: 0.8 ms a document). A worker that ran
each job the moment it was queued paid that cost for every uploaded file, since under a steady
stream of small uploads the queue seldom held more than one. So the background workers
(``jobs.worker``) let the first job of such a kind wait, at most ``seconds`` after it was queued,
while fewer than a batch are queued: what arrives meanwhile shares its pass. The price is that
much delay before a new document can be found, the trade every search engine makes (an index
"refresh interval").

Only the background workers gather. ``run_one`` without a gathering (``run_pending``, the tests,
``polaris import``) runs every due job at once, as before. A job is never held back by more
than ``seconds`` after it was queued, and a retried job (one that failed once) is not held at
all. Nothing is stored: a restart forgets which kinds were waiting, and they run at once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from polaris.clock import utcnow


class Gathering:
    """Which batched kinds wait for company, and until when; shared by a worker's threads."""

    def __init__(self, seconds: float, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.wait = dt.timedelta(seconds=seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, dt.datetime] = {}

    def resting(self) -> set[str]:
        """The kinds not to claim now: their first job is still gathering company."""
        now = self._clock()
        with self._lock:
            self._until = {kind: at for kind, at in self._until.items() if at > now}
            return set(self._until)

    def holds(self, kind: str, *, queued_at: dt.datetime, attempt: int, full: bool) -> bool:
        """Whether a batch of ``kind`` whose oldest job was queued at ``queued_at`` (its
        ``attempt``-th run) should wait rather than run now; if so the kind rests until then.
        A full batch, a retried job and one that has waited long enough all run."""
        if full or attempt > 1 or self.wait <= dt.timedelta(0):
            return False
        until = queued_at + self.wait
        if until <= self._clock():
            return False
        with self._lock:
            self._until[kind] = until
        return True

    def seconds_to_next(self, longest: float) -> float:
        """How long an idle worker may sleep: ``longest``, or less if a kind's rest ends first."""
        now = self._clock()
        with self._lock:
            ends = [(at - now).total_seconds() for at in self._until.values()]
        return max(0.0, min([longest, *ends]))
