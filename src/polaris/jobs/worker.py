"""Worker threads: run due jobs, then wait to be woken or for the next poll."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from polaris.foreground import FOREGROUND, YIELD_AT_MOST
from polaris.jobs import notify
from polaris.jobs.gathering import Gathering
from polaris.jobs.service import WAKE, run_one, worker_name

if TYPE_CHECKING:
    from polaris.instance import Instance

log = logging.getLogger("polaris.jobs")


class Worker:
    """``threads`` threads running jobs until :meth:`stop`; a job under way is finished first."""

    def __init__(self, instance: Instance, *, threads: int = 1) -> None:
        self._instance = instance
        self._stop = threading.Event()
        #: Batched kinds (the search index) wait a little for company (``jobs.gathering``).
        self._gathering = Gathering(instance.settings.jobs.gather_seconds)
        self._threads = [
            threading.Thread(target=self._run, name=f"jobs-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> None:
        nudge = notify.configure(self._instance.settings.jobs.redis_url)
        if nudge is not None:
            nudge.listen(WAKE)  # jobs queued on other nodes wake these threads at once
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        WAKE.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        notify.configure(None)

    def wait(self) -> None:
        """Block until :meth:`stop` (for ``polaris worker``)."""
        for thread in self._threads:
            while thread.is_alive():
                thread.join(timeout=1.0)

    def _run(self) -> None:
        name = worker_name()
        poll = self._instance.settings.jobs.poll_seconds
        next_yield = 0.0
        while not self._stop.is_set():
            # A job waits for the clients' answers under way (``polaris.foreground``), at most
            # once every ``YIELD_AT_MOST`` s: a room that is never quiet must not starve the jobs.
            if time.monotonic() >= next_yield:
                FOREGROUND.wait_quiet(at_most=YIELD_AT_MOST, stop=self._stop)
                next_yield = time.monotonic() + YIELD_AT_MOST
            try:
                ran = run_one(self._instance, worker=name, gathering=self._gathering)
            except Exception:  # a database hiccup must not end the worker
                log.exception("claiming a job failed")
                ran = False
            if ran:
                continue
            WAKE.wait(self._gathering.seconds_to_next(poll))
            WAKE.clear()
