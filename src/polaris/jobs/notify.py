"""Waking workers on other machines when a job is queued (Redis pub/sub, at scale).

The queue itself stays in the database (see ``polaris.jobs``): a job is durable the moment the
change that needs it commits, whatever happens to Redis. Redis only carries the nudge "a job was
queued", so workers on other nodes start at once instead of at their next poll. A lost message
costs at most one poll interval; Redis being down costs nothing but that latency.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

log = logging.getLogger("polaris.jobs")

CHANNEL = "polaris:jobs"


class RedisNudge:
    """Publishes a nudge after each commit that queued jobs; listens for others' nudges."""

    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._client: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    def publish(self) -> None:
        try:
            self._client.publish(self._channel, b"1")
        except redis.RedisError as error:  # the job is queued anyway; workers poll
            log.warning("could not nudge workers through Redis: %s", error)

    def listen(self, wake: threading.Event) -> None:
        """Set ``wake`` whenever any node queues a job, until :meth:`close`."""
        self._listener = threading.Thread(
            target=self._run, args=(wake,), name="jobs-nudge", daemon=True
        )
        self._listener.start()

    def _run(self, wake: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                client: Any = redis.Redis.from_url(self._url, socket_connect_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        wake.set()
                pubsub.close()
            except redis.RedisError as error:
                log.warning("listening for job nudges failed, polling meanwhile: %s", error)
                self._stop.wait(5)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        self._client.close()


class NudgeSlot:
    """The one Redis nudge of a channel in this process, configured at start and at stop."""

    def __init__(self, channel: str) -> None:
        self._channel = channel
        self._nudge: RedisNudge | None = None
        self._lock = threading.Lock()

    def configure(self, url: str | None) -> RedisNudge | None:
        """Use Redis at ``url`` for nudges in this process (None: in-process wake-ups only)."""
        with self._lock:
            if self._nudge is not None and url is None:
                self._nudge.close()
                self._nudge = None
            elif url is not None and self._nudge is None:
                self._nudge = RedisNudge(url, channel=self._channel)
            return self._nudge

    def nudge_others(self) -> None:
        if self._nudge is not None:
            self._nudge.publish()


_JOBS = NudgeSlot(CHANNEL)
configure = _JOBS.configure
nudge_others = _JOBS.nudge_others
