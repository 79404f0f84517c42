"""App passwords: what a WebDAV client (a mapped Windows drive, a phone app) signs in with.

Such a client sends HTTP Basic authentication on every request and can answer no second factor,
so it never gets the sign-in password: each device gets a password of its own, made from a
signed-in session (which passed MFA where the role requires it), shown once, stored as a SHA-256
digest (it is 192 random bits: a slow hash protects guessable secrets only), scoped to reading or
to reading and writing, and revocable one by one. A sign-in password sent to WebDAV is refused
like a wrong one, for every role (docs/clients.md says why).

A failed attempt is throttled and audited like a failed sign-in (``identity.throttle``), keyed by
the username it named, and by that username from the source address; not by the address alone,
as a sign-in is: a device left with a revoked password retries for as long as it is on, and
behind a station's one NAT address that would throttle the whole station's sign-ins. Guessing is
no threat to 192 random bits; the per-account delays bound the audit records such a device adds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.errors import NotAuthenticated, NotFound, Throttled, ValidationFailed
from polaris.identity import auth, callers, callers_repo, throttle
from polaris.identity.actors import RequestInfo
from polaris.identity.models import AppPassword, User
from polaris.identity.seen import due
from polaris.identity.tokens import digest
from polaris.identity.users import normalise_username

#: ``read``: PROPFIND, GET; ``write``: also PUT, MKCOL, MOVE, COPY, DELETE, PROPPATCH, LOCK.
SCOPES = frozenset({"read", "write"})
SECRET_PREFIX = "pap-"  # noqa: S105 - a public marker, not a secret
SECRET_BYTES = 24
MAX_PASSWORDS = 50


@dataclass(frozen=True)
class IssuedAppPassword:
    row: AppPassword
    secret: str  # shown once


def create(
    *, session: Session, user: User, name: str, scope: str, context: audit.AuditContext
) -> IssuedAppPassword:
    """A new app password for the device ``name``; the secret is returned once, never stored."""
    name = name.strip()
    if not 1 <= len(name) <= 255:
        raise ValidationFailed("name the device in 1 to 255 characters", code="bad_name")
    if scope not in SCOPES:
        raise ValidationFailed(f"scope must be one of {sorted(SCOPES)}", code="bad_scope")
    if user.disabled_at is not None:
        raise ValidationFailed("user is disabled", code="user_disabled")
    live = [row for row in list_for(session=session, user=user) if row.revoked_at is None]
    if len(live) >= MAX_PASSWORDS:
        raise ValidationFailed(
            f"at most {MAX_PASSWORDS} app passwords; revoke one first", code="too_many"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    row = AppPassword(
        user_id=user.id,
        name=name,
        prefix=secret[:10],
        secret_hash=digest(secret),
        scope=scope,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="app_password.create",
        object_type="app_password",
        object_id=str(row.id),
        detail={"user": user.username, "name": name, "scope": scope},
    )
    return IssuedAppPassword(row=row, secret=secret)


def list_for(*, session: Session, user: User) -> list[AppPassword]:
    return list(
        session.scalars(
            select(AppPassword).where(AppPassword.user_id == user.id).order_by(AppPassword.id)
        )
    )


def revoke(*, session: Session, user: User, password_id: int, context: audit.AuditContext) -> None:
    """Revoke one of the user's app passwords; from the next request on it signs nothing in."""
    row = session.get(AppPassword, password_id)
    if row is None or row.user_id != user.id:
        raise NotFound("app password not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    audit.append(
        session=session,
        context=context,
        action="app_password.revoke",
        object_type="app_password",
        object_id=str(row.id),
        detail={"user": user.username, "name": row.name},
    )


@dataclass(frozen=True)
class DeviceCaller:
    """A device signed in with a live app password: the actor ``access`` decides on, and what
    the gate writes after (the last use, a run of failures to clear)."""

    actor: Actor
    password_id: int
    username: str
    touch_due: bool
    #: Failures were counted against the account: the gate clears them (a write, so only then).
    failures_to_clear: bool


def resolve(
    *, session: Session, config: auth.AuthConfig, username: str, secret: str, request: RequestInfo
) -> DeviceCaller:
    """The caller whose live app password ``secret`` is, if ``username`` names them.

    Read in SQLAlchemy Core (``identity.callers``, as the API's read routes): the password, its
    owner's actor columns and the identity stamp in one row, no ORM objects (WebDAV signs in
    at every request). Anything else (unknown, revoked, another user's, a sign-in password, a
    disabled user) is ``NotAuthenticated`` ``invalid_credentials``, throttled and audited after
    the rollback.
    """
    now = utcnow()
    name = normalise_username(username)[: auth.MAX_LOGGED_USERNAME]
    keys = throttle_keys(name, request.source_address)
    try:
        failures = throttle.check(session=session, keys=keys, now=now)
    except Throttled:
        auth.after_failure(
            session, config, keys, request, "auth.app_password_throttled", name, "throttled"
        )
        raise
    row = callers_repo.plain_app_password(session, digest(secret))
    if (
        row is not None
        and row.revoked_at is None
        and row.disabled_at is None
        and row.username == name
    ):
        actor = callers.actor_of_row(
            session, row, auth_factors="app_password", token_scopes=frozenset({row.scope})
        )
        return DeviceCaller(
            actor=actor,
            password_id=row.password_id,
            username=row.username,
            touch_due=due(row.last_used_at, now),
            failures_to_clear=failures,
        )
    auth.after_failure(
        session, config, keys, request, "auth.app_password_failed", name, "bad_app_password"
    )
    raise NotAuthenticated("wrong username or app password", code="invalid_credentials")


def throttle_keys(username: str, source_address: str | None) -> list[str]:
    """The account's key and the account-from-this-address key (see the module's docstring)."""
    return [k for k in throttle.keys_for(username, source_address) if not k.startswith("source:")]


def clear_failures(session: Session, username: str, source_address: str | None) -> None:
    """A correct app password ends the account's run of failures, as a correct sign-in does."""
    throttle.record_success(
        session=session, username=username, source_address=source_address, now=utcnow()
    )


def touch(session: Session, password_id: int) -> None:
    """Note when an app password was last used (at most once a minute: ``identity.seen``)."""
    row = session.get(AppPassword, password_id)
    if row is not None:
        row.last_used_at = utcnow()
