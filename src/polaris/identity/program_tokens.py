"""Scoped, expiring API tokens for programs (sync clients, scripts, integrations).

Named for whom the tokens are for: ``api_*.py`` are route modules (docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.errors import NotAuthenticated, NotFound, ValidationFailed
from polaris.identity import callers_repo
from polaris.identity.liveness import token_is_live
from polaris.identity.models import ApiToken, User
from polaris.identity.seen import Touch, due
from polaris.identity.tokens import digest, new_api_token

SCOPES = frozenset({"read", "write", "all"})
MAX_LIFETIME_DAYS = 366


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once


def create_token(
    *,
    session: Session,
    user: User,
    name: str,
    scopes: list[str],
    lifetime_days: int,
    context: audit.AuditContext,
) -> IssuedToken:
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise ValidationFailed(f"scopes must be some of {sorted(SCOPES)}", code="bad_scope")
    if not 1 <= lifetime_days <= MAX_LIFETIME_DAYS:
        raise ValidationFailed("a token lives 1 to 366 days", code="bad_lifetime")
    if user.disabled_at is not None:
        raise ValidationFailed("user is disabled", code="user_disabled")
    secret = new_api_token()
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:12],
        token_hash=digest(secret),
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + dt.timedelta(days=lifetime_days),
    )
    session.add(token)
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="token.create",
        object_type="api_token",
        object_id=str(token.id),
        detail={"user": user.username, "scopes": token.scopes},
    )
    return IssuedToken(token=token, secret=secret)


@dataclass(frozen=True)
class TokenCaller:
    """A live API token, its user, and its last-used time when due."""

    token: ApiToken
    user: User
    touch: Touch | None
    #: The identity stamp read with the token (``identity.facts``), for ``actors.actor_for``.
    stamp: int | None = None


def resolve_token(*, session: Session, secret: str) -> TokenCaller:
    """The live token and its user, or ``NotAuthenticated`` (forged, expired, revoked, disabled).

    Only reads: a due last-used time is returned (``touch``) for the caller to write apart.
    """
    now = utcnow()
    found = callers_repo.token_with_owner(session, digest(secret))
    if found is None:
        raise NotAuthenticated("token is not valid", code="invalid_token")
    token, user, stamp = found
    if not token_is_live(
        revoked_at=token.revoked_at,
        expires_at=token.expires_at,
        owner_disabled_at=user.disabled_at,
        now=now,
    ):
        raise NotAuthenticated("token is not valid", code="invalid_token")
    touch = Touch("token", token.id, now) if due(token.last_used_at, now) else None
    return TokenCaller(token=token, user=user, touch=touch, stamp=stamp)


def revoke_token(
    *, session: Session, user: User, token_id: int, context: audit.AuditContext
) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("token not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    audit.append(
        session=session,
        context=context,
        action="token.revoke",
        object_type="api_token",
        object_id=str(token.id),
    )


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )
