"""Who is calling, in SQLAlchemy Core: the read routes' hot path (``polaris.deps.ReadGate``).

``program_tokens.resolve_token`` and ``auth.resolve_session`` load the token or session row and
the user (with role and unit) as ORM objects: identity-mapped instances of 20 and more columns,
about a quarter of a metadata GET's CPU. A read route needs none of them, only the ``Actor``
that ``access`` decides on. Here the same rows are read by one prebuilt Core statement each
(``identity.callers_repo``), as plain rows of the columns the actor is made of, in the
request's read-only transaction, and judged by the same rules (``identity.liveness``).

Only a caller that is plainly valid is resolved here: a live token or an active session, of an
enabled user. For anything else these functions answer None and the caller resolution goes the
full way (``deps._authenticate``), which raises the very error it always did and does what it
always does (an idle or expired session is recorded ended after the refusal). So this path
decides nothing the full one would decide otherwise; it only skips the ORM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.clock import utcnow
from polaris.identity import callers_repo
from polaris.identity.actors import actor_of
from polaris.identity.liveness import SessionState, state_of, token_is_live
from polaris.identity.seen import Touch, due
from polaris.identity.tokens import digest


@dataclass(frozen=True)
class Resolved:
    """A valid caller: the actor, the session row's id (none for a token), and the last-seen
    time to record when one is due (``identity.seen``)."""

    actor: Actor
    session_id: str | None
    touch: Touch | None
    #: The ``extra`` column of a statement made by ``callers_repo.plain_session_with``.
    extra: Any = None


def actor_of_row(session: Session, row: Any, **how: Any) -> Actor:
    """The actor of a row read by a ``callers_repo`` plain statement (its owner's columns)."""
    return actor_of(
        session=session,
        user_id=row.user_id,
        username=row.username,
        unit_id=row.unit_id,
        role_code=row.role_code,
        clearance=row.clearance,
        unit_actions=row.unit_actions,
        subtree_actions=row.subtree_actions,
        is_admin=row.is_admin,
        disabled=row.disabled_at is not None,
        must_change_password=row.must_change_password,
        writes_frozen=row.writes_frozen_at is not None,
        stamp=row.stamp,
        **how,
    )


def by_token(session: Session, secret: str) -> Resolved | None:
    """The caller of the API token ``secret`` if it is live and its user enabled, else None."""
    row = callers_repo.plain_token(session, digest(secret))
    now = utcnow()
    if row is None or not token_is_live(
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        owner_disabled_at=row.disabled_at,
        now=now,
    ):
        return None
    actor = actor_of_row(session, row, auth_factors="token", token_scopes=frozenset(row.scopes))
    touch = Touch("token", row.token_id, now) if due(row.last_used_at, now) else None
    return Resolved(actor=actor, session_id=None, touch=touch)


def by_session(
    session: Session,
    token: str,
    *,
    idle_timeout: dt.timedelta,
    statement: callers_repo.AnySelect | None = None,
) -> Resolved | None:
    """The caller of the session ``token`` if it is active (sign-in complete, not over, its user
    enabled); else None. ``statement``: one made by ``callers_repo.plain_session_with``, whose
    extra column comes back in ``Resolved.extra``."""
    row = callers_repo.plain_session(session, digest(token), statement)
    now = utcnow()
    if row is None:
        return None
    state = state_of(row, owner_disabled_at=row.disabled_at, now=now, idle_timeout=idle_timeout)
    if state is not SessionState.ACTIVE:
        return None
    actor = actor_of_row(session, row, auth_factors=row.auth_factors, session_id=row.session_id)
    touch = Touch("session", row.session_id, now) if due(row.last_seen_at, now) else None
    extra = row.extra if statement is not None else None
    return Resolved(actor=actor, session_id=row.session_id, touch=touch, extra=extra)
