"""Sign-in throttling: exponential backoff per account and per source, never a hard lock-out.

DESIGN §8: a lock-out would let anyone lock any officer out by guessing; backoff slows a guesser
down instead. After ``free_failures`` consecutive failures each further one doubles the wait (up to
``max_delay_seconds``), and at most ``max_failures_per_hour`` failures are counted per key in a
rolling hour. Unknown usernames get counters like real ones, so they answer alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.errors import Throttled
from polaris.identity.models import LoginThrottle

WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ThrottlePolicy:
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 900.0
    free_failures: int = 3
    max_failures_per_hour: int = 100


def keys_for(username: str, source_address: str | None) -> list[str]:
    keys = [f"account:{username}"]
    if source_address:
        keys.append(f"source:{source_address}")
    return keys


def check(*, session: Session, keys: list[str], now: dt.datetime) -> None:
    """Raise ``Throttled`` if any key is still waiting."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    waits = [
        (row.blocked_until - now).total_seconds()
        for row in rows
        if row.blocked_until is not None and row.blocked_until > now
    ]
    if waits:
        raise Throttled("too many failed sign-ins; try again later", retry_after=max(waits))


def record_failure(
    *, session: Session, keys: list[str], now: dt.datetime, policy: ThrottlePolicy
) -> None:
    for key in keys:
        row = session.scalars(select(LoginThrottle).where(LoginThrottle.key == key)).one_or_none()
        if row is None:
            row = LoginThrottle(
                key=key, consecutive_failures=0, window_started_at=now, window_failures=0
            )
            session.add(row)
        if now - row.window_started_at >= WINDOW:
            row.window_started_at = now
            row.window_failures = 0
        row.consecutive_failures += 1
        row.window_failures += 1
        row.blocked_until = _blocked_until(row, now, policy)
    session.flush()


def _blocked_until(
    row: LoginThrottle, now: dt.datetime, policy: ThrottlePolicy
) -> dt.datetime | None:
    if row.window_failures >= policy.max_failures_per_hour:
        return row.window_started_at + WINDOW
    excess = row.consecutive_failures - policy.free_failures
    if excess <= 0:
        return None
    delay = min(policy.base_delay_seconds * 2 ** (excess - 1), policy.max_delay_seconds)
    return now + dt.timedelta(seconds=delay)


def record_success(*, session: Session, username: str, now: dt.datetime) -> None:
    """A correct sign-in clears the account's backoff (not the hourly count or the source's)."""
    row = session.scalars(
        select(LoginThrottle).where(LoginThrottle.key == f"account:{username}")
    ).one_or_none()
    if row is not None:
        row.consecutive_failures = 0
        row.blocked_until = None
