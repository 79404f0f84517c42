"""Waking event runners on other nodes when events commit (Redis pub/sub, at scale).

The stream itself is the database; Redis carries only the nudge "events were appended". A lost
nudge costs a poll interval, Redis being down costs nothing but that latency.
"""

from __future__ import annotations

from polaris.jobs.notify import NudgeSlot

CHANNEL = "polaris:events"

_EVENTS = NudgeSlot(CHANNEL)
configure = _EVENTS.configure
nudge_others = _EVENTS.nudge_others
