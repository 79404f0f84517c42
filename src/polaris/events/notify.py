"""Waking event runners on other nodes when events commit (Redis pub/sub, at scale).

The stream itself is the database; Redis carries only the nudge "events were appended". A lost
nudge costs a poll interval, Redis being down costs nothing but that latency.
"""

from __future__ import annotations

import threading

from polaris.jobs.notify import RedisNudge

CHANNEL = "polaris:events"

_NUDGE: RedisNudge | None = None
_LOCK = threading.Lock()


def configure(url: str | None) -> RedisNudge | None:
    """Use Redis at ``url`` for event nudges in this process (None: in-process wake-ups only)."""
    global _NUDGE
    with _LOCK:
        if _NUDGE is not None and url is None:
            _NUDGE.close()
            _NUDGE = None
        elif url is not None and _NUDGE is None:
            _NUDGE = RedisNudge(url, channel=CHANNEL)
        return _NUDGE


def nudge_others() -> None:
    if _NUDGE is not None:
        _NUDGE.publish()
