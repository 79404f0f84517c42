"""The one source of the current time: UTC, timezone-aware, replaceable in tests."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
