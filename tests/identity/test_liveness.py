"""The liveness rules of API tokens and sessions, which the ORM and Core callers both ask."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from polaris.identity.liveness import SessionState, session_state, token_is_live

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
IDLE = dt.timedelta(minutes=30)
LATER = NOW + dt.timedelta(hours=1)
LONG_AGO = NOW - dt.timedelta(hours=1)


def _token(
    *,
    revoked_at: dt.datetime | None = None,
    expires_at: dt.datetime = LATER,
    owner_disabled_at: dt.datetime | None = None,
) -> bool:
    return token_is_live(
        revoked_at=revoked_at, expires_at=expires_at, owner_disabled_at=owner_disabled_at, now=NOW
    )


def test_a_token_is_live_only_unrevoked_unexpired_and_of_an_enabled_owner() -> None:
    assert _token()
    assert not _token(revoked_at=LONG_AGO)
    assert not _token(expires_at=NOW)  # expiry is exclusive
    assert not _token(owner_disabled_at=LONG_AGO)


def _state(
    *,
    ended_at: dt.datetime | None = None,
    expires_at: dt.datetime = LATER,
    stage: str = "active",
    last_seen_at: dt.datetime = NOW - dt.timedelta(minutes=5),
    owner_disabled_at: dt.datetime | None = None,
) -> SessionState:
    return session_state(
        ended_at=ended_at,
        expires_at=expires_at,
        stage=stage,
        last_seen_at=last_seen_at,
        owner_disabled_at=owner_disabled_at,
        now=NOW,
        idle_timeout=IDLE,
    )


@pytest.mark.parametrize(
    ("changed", "state"),
    [
        ({}, SessionState.ACTIVE),
        ({"stage": "mfa"}, SessionState.SIGNING_IN),
        ({"stage": "enrol", "last_seen_at": LONG_AGO}, SessionState.SIGNING_IN),
        ({"last_seen_at": NOW - IDLE}, SessionState.ACTIVE),
        ({"last_seen_at": LONG_AGO}, SessionState.IDLE),
        ({"expires_at": NOW}, SessionState.EXPIRED),
        ({"owner_disabled_at": LONG_AGO}, SessionState.OWNER_DISABLED),
        # The first rule that holds decides: ended, then expired, then idle, then disabled.
        ({"ended_at": LONG_AGO, "expires_at": NOW, "last_seen_at": LONG_AGO}, SessionState.ENDED),
        ({"expires_at": NOW, "last_seen_at": LONG_AGO}, SessionState.EXPIRED),
        ({"last_seen_at": LONG_AGO, "owner_disabled_at": LONG_AGO}, SessionState.IDLE),
    ],
)
def test_the_state_of_a_session(changed: dict[str, Any], state: SessionState) -> None:
    assert _state(**changed) is state


def test_only_a_session_found_over_and_not_yet_ended_has_an_end_to_record() -> None:
    assert {s: s.end_reason for s in SessionState if s.end_reason} == {
        SessionState.IDLE: "idle",
        SessionState.EXPIRED: "expired",
    }
    assert {s for s in SessionState if s.live} == {SessionState.ACTIVE, SessionState.SIGNING_IN}
