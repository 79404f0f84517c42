"""Who is calling, in SQLAlchemy Core: the read routes' hot path (``polaris.deps.ReadGate``).

``program_tokens.resolve_token`` and ``auth.resolve_session`` load the token or session row and
the user (with role and unit) as ORM objects: identity-mapped instances of 20 and more columns,
about a quarter of a metadata GET's CPU. A read route needs none of them, only the ``Actor``
that ``access`` decides on. Here the same rows are read by one prebuilt Core statement each
(compiled once, then found in SQLAlchemy's statement cache), as plain rows of the columns the
actor is made of, in the request's read-only transaction.

Only a caller that is plainly valid is resolved here: a live, unrevoked, unexpired token or an
active, unexpired, not idle session, of an enabled user. For anything else these functions
answer None and the caller resolution goes the full way (``deps._authenticate``), which raises
the very error it always did and does what it always did (an idle session is ended there). So
this path decides nothing the full one would decide otherwise; it only skips the ORM.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.clock import utcnow
from polaris.identity.actors import actor_of
from polaris.identity.facts import stamp_column
from polaris.identity.models import ApiToken, Role, User, UserSession
from polaris.identity.seen import Touch, due
from polaris.identity.tokens import digest

#: The columns of the user and their role that an ``Actor`` is made of.
_USER_COLUMNS = (
    User.id.label("user_id"),
    User.username,
    User.unit_id,
    User.role_code,
    User.clearance,
    User.disabled_at,
    User.must_change_password,
    User.writes_frozen_at,
    Role.unit_actions,
    Role.subtree_actions,
    Role.is_admin,
    stamp_column().label("stamp"),
)

_TOKEN = (
    select(
        ApiToken.id.label("token_id"),
        ApiToken.scopes,
        ApiToken.expires_at,
        ApiToken.revoked_at,
        ApiToken.last_used_at,
        *_USER_COLUMNS,
    )
    .join(User, User.id == ApiToken.user_id)
    .join(Role, Role.code == User.role_code)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)

_SESSION = (
    select(
        UserSession.id.label("session_id"),
        UserSession.stage,
        UserSession.auth_factors,
        UserSession.expires_at,
        UserSession.last_seen_at,
        UserSession.ended_at,
        *_USER_COLUMNS,
    )
    .join(User, User.id == UserSession.user_id)
    .join(Role, Role.code == User.role_code)
    .where(UserSession.id == bindparam("session_id"))
)


@dataclass(frozen=True)
class Resolved:
    """A valid caller: the actor, the session row's id (none for a token), and the last-seen
    time to record when one is due (``identity.seen``)."""

    actor: Actor
    session_id: str | None
    touch: Touch | None


def _actor(session: Session, row: Any, **how: Any) -> Actor:
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
    row = session.connection().execute(_TOKEN, {"token_hash": digest(secret)}).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.disabled_at is not None:
        return None
    actor = _actor(session, row, auth_factors="token", token_scopes=frozenset(row.scopes))
    touch = Touch("token", row.token_id, now) if due(row.last_used_at, now) else None
    return Resolved(actor=actor, session_id=None, touch=touch)


def by_session(session: Session, token: str, *, idle_timeout: dt.timedelta) -> Resolved | None:
    """The caller of the session ``token`` if it is active (second factor done), unexpired and
    not idle, and its user enabled; else None."""
    row = session.connection().execute(_SESSION, {"session_id": digest(token)}).first()
    now = utcnow()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    if row.stage != "active" or now - row.last_seen_at > idle_timeout:
        return None
    if row.disabled_at is not None:
        return None
    actor = _actor(session, row, auth_factors=row.auth_factors, session_id=row.session_id)
    touch = Touch("session", row.session_id, now) if due(row.last_seen_at, now) else None
    return Resolved(actor=actor, session_id=row.session_id, touch=touch)
