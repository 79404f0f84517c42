"""Sign-in throttling: exponential backoff per account and per source, never a hard lock-out.

DESIGN §8: a lock-out would let anyone lock any officer out by guessing; backoff slows a guesser
down instead. Three counters are kept for every failure:

``pair:<source>|<username>``
    the strict one: after ``free_failures`` consecutive failures each further one doubles the wait
    (up to ``max_delay_seconds``), at most ``max_failures_per_hour`` in a rolling hour.
``account:<username>``
    the same from every address at once, looser (``account_free_failures``), so that guessing one
    account from many addresses still backs off and stays under ``max_failures_per_hour``.
``source:<address>``
    looser still (``source_free_failures`` failures an hour free, ``source_max_failures_per_hour``
    at most): a whole police station signs in from one NAT address, so one officer's typos must not
    make the other accounts wait, yet one address trying many usernames (spraying) is stopped.
``flow:<address>``
    not failures but starts of Nextcloud's login flow v2 (``identity.login_flow``), which need no
    sign-in and each make a row: ``flow_free_per_hour`` from one address in a rolling hour are
    free, each further one doubles the wait, ``flow_max_per_hour`` at most (:func:`count_flow`).

Unknown usernames get counters like real ones, so they answer alike.

Throttled attempts are not failures (they are refused before any password is checked) and are
counted per source in ``LoginThrottleTally`` instead of being audited one by one: the first of a
window is audited by the caller, later ones only add to the count, and a window that has ended is
closed into one summary record (:func:`note_throttled`, :func:`close_ended_windows`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from polaris.db.engine import is_postgresql
from polaris.errors import Throttled
from polaris.identity.models import LoginThrottle, LoginThrottleTally

WINDOW = dt.timedelta(hours=1)
#: Longest username or address kept as it is in a key (longer ones are replaced by a digest).
MAX_KEY_PART = 64
#: How many ended tally windows one sign-in failure closes at most (bounded extra work).
CLOSE_BATCH = 10

FLOW_THROTTLED = "too many login flows started from this address; try again later"

KeyKind = Literal["pair", "account", "source", "flow"]


@dataclass(frozen=True)
class ThrottlePolicy:
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 900.0
    free_failures: int = 3
    max_failures_per_hour: int = 100
    account_free_failures: int = 10
    source_free_failures: int = 30
    source_max_failures_per_hour: int = 1000
    tally_window_seconds: float = 300.0
    flow_free_per_hour: int = 60
    flow_max_per_hour: int = 600


def keys_for(username: str, source_address: str | None) -> list[str]:
    name = _fit(username)
    keys = [f"account:{name}"]
    if source_address:
        address = _fit(source_address)
        keys += [f"pair:{address}|{name}", f"source:{address}"]
    return keys


def _fit(value: str) -> str:
    """``value``, or a digest of it when it is too long for a key (a sign-in form takes any
    username; the key column holds 160 characters)."""
    if len(value) <= MAX_KEY_PART:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:40]


def check(
    *,
    session: Session,
    keys: list[str],
    now: dt.datetime,
    detail: str = "too many failed sign-ins; try again later",
) -> bool:
    """Raise ``Throttled`` if any key is still waiting; else whether a run of failures is
    counted against any of ``keys`` (from the same read: a caller that clears the run only
    when there is one, clearing being a write, needs no second statement)."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    waits = [
        (row.blocked_until - now).total_seconds()
        for row in rows
        if row.blocked_until is not None and row.blocked_until > now
    ]
    if waits:
        raise Throttled(detail, retry_after=max(waits))
    return any(row.consecutive_failures > 0 for row in rows)


def record_failure(
    *, session: Session, keys: list[str], now: dt.datetime, policy: ThrottlePolicy
) -> None:
    for key in keys:
        _insert_missing(
            session,
            LoginThrottle,
            key=key,
            consecutive_failures=0,
            window_started_at=now,
            window_failures=0,
        )
        row = session.scalars(
            select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
        ).one()
        if now - row.window_started_at >= WINDOW:
            row.window_started_at = now
            row.window_failures = 0
        row.consecutive_failures += 1
        row.window_failures += 1
        row.blocked_until = _blocked_until(row, now, policy)
    session.flush()


def _kind(key: str) -> KeyKind:
    kind = key.split(":", 1)[0]
    assert kind in ("pair", "account", "source", "flow"), key
    return kind  # type: ignore[return-value]


def _blocked_until(
    row: LoginThrottle, now: dt.datetime, policy: ThrottlePolicy
) -> dt.datetime | None:
    kind = _kind(row.key)
    if kind == "flow":
        cap, failures, free = (
            policy.flow_max_per_hour,
            row.window_failures,
            policy.flow_free_per_hour,
        )
    elif kind == "source":
        cap, failures, free = (
            policy.source_max_failures_per_hour,
            row.window_failures,  # a station's typos add up all day: count an hour only
            policy.source_free_failures,
        )
    else:
        free = policy.free_failures if kind == "pair" else policy.account_free_failures
        cap, failures = policy.max_failures_per_hour, row.consecutive_failures
    if row.window_failures >= cap:
        return row.window_started_at + WINDOW
    excess = failures - free
    if excess <= 0:
        return None
    delay = min(policy.base_delay_seconds * 2 ** (excess - 1), policy.max_delay_seconds)
    return now + dt.timedelta(seconds=delay)


def count_flow(
    *, session: Session, source_address: str | None, now: dt.datetime, policy: ThrottlePolicy
) -> None:
    """Count one start of a login flow from ``source_address``; raise ``Throttled`` (counting
    nothing) while the address must wait. Requests without an address share one counter."""
    keys = [f"flow:{_fit(source_address or '-')}"]
    check(session=session, keys=keys, now=now, detail=FLOW_THROTTLED)
    record_failure(session=session, keys=keys, now=now, policy=policy)


def record_success(
    *, session: Session, username: str, source_address: str | None, now: dt.datetime
) -> None:
    """A correct sign-in clears the account's backoff and that of the account from this address
    (not the hourly counts, nor the source's: one valid account must not reset a sprayer)."""
    keys = [key for key in keys_for(username, source_address) if not key.startswith("source:")]
    for row in session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))):
        row.consecutive_failures = 0
        row.blocked_until = None


@dataclass(frozen=True)
class ClosedWindow:
    """A window of throttled attempts from one source that has ended, for its summary record."""

    source: str
    started_at: dt.datetime
    last_at: dt.datetime
    attempts: int


@dataclass(frozen=True)
class Tally:
    """What one throttled attempt means for the log: audit it if it is the first of a window;
    write a summary for ``closed`` (the source's previous window) if it is given."""

    first_of_window: bool
    closed: ClosedWindow | None


def note_throttled(
    *, session: Session, source_address: str | None, now: dt.datetime, policy: ThrottlePolicy
) -> Tally:
    """Count one throttled attempt from ``source_address`` (one row per source, locked)."""
    source = _fit(source_address) if source_address else "-"
    _insert_missing(
        session, LoginThrottleTally, source=source, window_started_at=now, last_at=now, attempts=0
    )
    row = session.scalars(
        select(LoginThrottleTally).where(LoginThrottleTally.source == source).with_for_update()
    ).one()
    closed = None
    if row.attempts and now - row.window_started_at >= _tally_window(policy):
        closed = _close(row)
    if row.attempts == 0:
        row.window_started_at = now
    row.attempts += 1
    row.last_at = now
    session.flush()
    return Tally(first_of_window=row.attempts == 1, closed=closed)


def close_ended_windows(
    *, session: Session, now: dt.datetime, policy: ThrottlePolicy, limit: int = CLOSE_BATCH
) -> list[ClosedWindow]:
    """Close up to ``limit`` ended windows of any source, for their summary records.

    Called on every sign-in failure, so a source that stopped trying is still summarised soon.
    Rows another transaction holds are skipped (PostgreSQL), not waited for.
    """
    rows = session.scalars(
        select(LoginThrottleTally)
        .where(
            LoginThrottleTally.attempts > 0,
            LoginThrottleTally.window_started_at <= now - _tally_window(policy),
        )
        .order_by(LoginThrottleTally.window_started_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    closed = [_close(row) for row in rows]
    session.flush()
    return closed


def _close(row: LoginThrottleTally) -> ClosedWindow:
    closed = ClosedWindow(
        source=row.source,
        started_at=row.window_started_at,
        last_at=row.last_at,
        attempts=row.attempts,
    )
    row.attempts = 0
    return closed


def _tally_window(policy: ThrottlePolicy) -> dt.timedelta:
    return dt.timedelta(seconds=policy.tally_window_seconds)


def _insert_missing(
    session: Session, model: type[LoginThrottle] | type[LoginThrottleTally], **values: object
) -> None:
    """Create the row unless it exists, without racing a concurrent creator into a unique
    violation (which would turn a refused sign-in into a server error)."""
    insert = postgresql_insert if is_postgresql(session) else sqlite_insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())
