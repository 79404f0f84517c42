"""When an API token or a browser session may act: each rule set stated once.

A request's caller is resolved two ways: with the ORM (``program_tokens.resolve_token``,
``auth.resolve_session``, which load whole rows for the routes that use them) and in SQLAlchemy
Core for the read routes (``identity.callers``, plain rows of a few columns). Both ask these
functions, over plain values read either way, so that a rule changed here holds for both and the
two paths cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Protocol

#: The stage of a session whose sign-in is complete (``identity.auth``'s state machine).
ACTIVE_STAGE = "active"


def token_is_live(
    *,
    revoked_at: dt.datetime | None,
    expires_at: dt.datetime,
    owner_disabled_at: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """Whether an API token may act: not revoked, not expired, its owner enabled. (What it may
    do, its scopes, is ``access``'s decision on the actor.)"""
    return revoked_at is None and expires_at > now and owner_disabled_at is None


class SessionState(enum.Enum):
    """What a browser session (or a Matrix access token, which is one) is at a given time."""

    #: Live, and its sign-in complete: it may act.
    ACTIVE = "active"
    #: Live, a sign-in step awaited (second factor, enrolment): it may take that step only.
    SIGNING_IN = "signing_in"
    #: Recorded ended (logout, an administrator, a password change, an earlier expiry...).
    ENDED = "ended"
    #: Past its absolute lifetime (or its sign-in step's), not yet recorded ended.
    EXPIRED = "expired"
    #: Active, unused for longer than the idle timeout, not yet recorded ended.
    IDLE = "idle"
    #: Live, but its owner's account is disabled.
    OWNER_DISABLED = "owner_disabled"

    @property
    def live(self) -> bool:
        return self in (SessionState.ACTIVE, SessionState.SIGNING_IN)

    @property
    def end_reason(self) -> str | None:
        """The ``user_session.end_reason`` to record for a session found over but not yet
        recorded ended (``idle``, ``expired``); None for any other state."""
        return _END_REASONS.get(self)


def session_state(
    *,
    ended_at: dt.datetime | None,
    expires_at: dt.datetime,
    stage: str,
    last_seen_at: dt.datetime,
    owner_disabled_at: dt.datetime | None,
    now: dt.datetime,
    idle_timeout: dt.timedelta,
) -> SessionState:
    """The state of a session at ``now``; the first rule that holds decides, in this order.

    Only an active session idles: a sign-in step has a short lifetime of its own.
    """
    if ended_at is not None:
        return SessionState.ENDED
    if expires_at <= now:
        return SessionState.EXPIRED
    active = stage == ACTIVE_STAGE
    if active and now - last_seen_at > idle_timeout:
        return SessionState.IDLE
    if owner_disabled_at is not None:
        return SessionState.OWNER_DISABLED
    return SessionState.ACTIVE if active else SessionState.SIGNING_IN


class SessionRow(Protocol):
    """What :func:`state_of` reads of a session: the ORM's ``UserSession`` or a Core row."""

    @property
    def ended_at(self) -> dt.datetime | None: ...
    @property
    def expires_at(self) -> dt.datetime: ...
    @property
    def stage(self) -> str: ...
    @property
    def last_seen_at(self) -> dt.datetime: ...


def state_of(
    row: SessionRow,
    *,
    owner_disabled_at: dt.datetime | None,
    now: dt.datetime,
    idle_timeout: dt.timedelta,
) -> SessionState:
    """:func:`session_state` of a session row (the ORM path, ``auth``, and the Core path,
    ``callers``, read the same four columns)."""
    return session_state(
        ended_at=row.ended_at,
        expires_at=row.expires_at,
        stage=row.stage,
        last_seen_at=row.last_seen_at,
        owner_disabled_at=owner_disabled_at,
        now=now,
        idle_timeout=idle_timeout,
    )


_END_REASONS = {SessionState.IDLE: "idle", SessionState.EXPIRED: "expired"}
