"""The thread that sequences events and runs consumers in a server or worker process."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING

from polaris.db.uow import unit_of_work
from polaris.events import consumers, notify, repo, service
from polaris.foreground import FOREGROUND, RUNNER_SETTLE, YIELD_AT_MOST

if TYPE_CHECKING:
    from polaris.instance import Instance

log = logging.getLogger("polaris.events")

#: How often a runner removes events past their retention that every consumer has read.
COMPACT_EVERY_SECONDS = 3600.0


class EventRunner:
    """Runs passes (``consumers.run_pass``) when woken, and at least every poll interval.

    Woken by a commit that appended events in this process (``service.WAKE``) or, with
    ``jobs.redis_url`` set, on any node. Several runners (nodes, processes) may run at once: the
    head row and each cursor row are locked while in use, so they take turns.
    """

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._last_compaction = 0.0

    def start(self) -> None:
        nudge = notify.configure(self._instance.settings.jobs.redis_url)
        if nudge is not None:
            nudge.listen(service.WAKE)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        service.WAKE.set()
        self._thread.join(timeout=timeout)
        notify.configure(None)

    def _run(self) -> None:
        poll = self._instance.settings.jobs.poll_seconds
        while not self._stop.is_set():
            service.WAKE.clear()  # before the pass: a commit during it wakes the next one
            try:
                consumers.run_pass(self._instance.sessions)
                self._compact_when_due()
            except Exception:  # a database hiccup must not end the runner
                log.exception("an event pass failed")
            if service.WAKE.wait(poll):
                # Behind the clients' answers a commit may have started (``polaris.foreground``).
                FOREGROUND.wait_quiet(
                    at_least=RUNNER_SETTLE, at_most=YIELD_AT_MOST, stop=self._stop
                )

    def _compact_when_due(self) -> None:
        now = time.monotonic()
        if now - self._last_compaction < COMPACT_EVERY_SECONDS:
            return
        self._last_compaction = now
        compact(self._instance)


def compact(instance: Instance) -> int:
    """Remove events past ``events.retention_days`` that every registered consumer has read."""
    names = [chosen.name for chosen in consumers.registered_consumers()]
    retention = dt.timedelta(days=instance.settings.events.retention_days)
    with unit_of_work(instance.sessions) as session:
        positions = repo.cursor_positions(session)
        keep_after = min((positions.get(name, 0) for name in names), default=None)
        if keep_after is None:
            keep_after = repo.head_position(session)
        removed = service.compact(session, retention=retention, keep_after=keep_after)
    if removed:
        log.info("removed %s events past their retention", removed)
    return removed
