"""Signing in and out: password, sessions, password change (the second factor and its
enrolment: ``identity.second_factor``).

A sign-in is a short state machine held in ``user_session.stage``:

    password ok ──► ``mfa``   (second factor awaited, 5 minutes) ──► ``active``
               └──► ``enrol`` (role requires MFA, none set up, 15 minutes) ──► ``active``
               └──► ``active`` (no MFA needed)

Every step that succeeds ends the previous session row and issues a new token, so a token seen
before sign-in completes is worth nothing after it. Every failure answers the same
``invalid_credentials`` whether the username exists or not, costs the same argon2 work, is
throttled and audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.db.uow import after_rollback
from polaris.errors import MfaRequired, NotAuthenticated, NotFound, Throttled
from polaris.identity import callers_repo, throttle
from polaris.identity.actors import RequestInfo, anonymous_context, user_context
from polaris.identity.liveness import ACTIVE_STAGE, SessionState, state_of
from polaris.identity.models import User, UserSession
from polaris.identity.passwords import Passwords, check_policy
from polaris.identity.seen import LAST_SEEN_RESOLUTION as LAST_SEEN_RESOLUTION
from polaris.identity.seen import Touch, due
from polaris.identity.tokens import digest, new_session_token
from polaris.identity.users import normalise_username

MFA_STAGE_LIFETIME = dt.timedelta(minutes=5)
ENROL_STAGE_LIFETIME = dt.timedelta(minutes=15)
MAX_LOGGED_USERNAME = 128


@dataclass(frozen=True)
class AuthConfig:
    passwords: Passwords
    throttle: throttle.ThrottlePolicy
    idle_timeout: dt.timedelta
    absolute_timeout: dt.timedelta
    mfa_key: bytes
    issuer: str = "Polaris"


@dataclass(frozen=True)
class SignInStep:
    """A new session token (shown to the client once) and the stage it is in."""

    token: str
    stage: str
    user: User
    expires_at: dt.datetime


def login(
    *, session: Session, config: AuthConfig, username: str, password: str, request: RequestInfo
) -> SignInStep:
    now = utcnow()
    name = normalise_username(username)
    keys = throttle.keys_for(name, request.source_address)
    try:
        throttle.check(session=session, keys=keys, now=now)
    except Throttled:
        after_failure(session, config, keys, request, "auth.login_throttled", name, "throttled")
        raise
    user = session.scalars(select(User).where(User.username == name)).one_or_none()
    usable = user is not None and user.disabled_at is None
    result = config.passwords.verify(user.password_hash if usable and user else None, password)
    if not result.ok or user is None:
        reason = "unknown_user" if user is None else "disabled" if not usable else "bad_password"
        after_failure(session, config, keys, request, "auth.login_failed", name, reason)
        raise NotAuthenticated("wrong username or password", code="invalid_credentials")
    throttle.record_success(
        session=session, username=name, source_address=request.source_address, now=now
    )
    if result.needs_rehash:
        user.password_hash = config.passwords.hash(password)
    if user.mfa_enabled_at is not None:
        stage, lifetime = "mfa", MFA_STAGE_LIFETIME
    elif user.role.requires_mfa:
        stage, lifetime = "enrol", ENROL_STAGE_LIFETIME
    else:
        stage, lifetime = ACTIVE_STAGE, config.absolute_timeout
    step = start_session(session, user, stage, "password", now + lifetime, request)
    action = "auth.login" if stage == ACTIVE_STAGE else "auth.password_ok"
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors="password", session_id=digest(step.token)),
        action=action,
        object_type="user",
        object_id=str(user.id),
        detail={"stage": stage},
    )
    return step


def after_failure(
    session: Session,
    config: AuthConfig,
    keys: list[str],
    request: RequestInfo,
    action: str,
    username: str,
    reason: str,
) -> None:
    """Persist the throttle count and the audit record of a failure after its rollback.

    A failure is audited each time (the throttle bounds how many there can be). A throttled
    attempt costs an unauthenticated client nothing, so it is only counted per source: the first
    of a window is audited, the rest are summarised in one record when the window ends.
    """

    def effect(failure_session: Session) -> None:
        now = utcnow()
        context = anonymous_context(request)
        if reason == "throttled":
            tally = throttle.note_throttled(
                session=failure_session,
                source_address=request.source_address,
                now=now,
                policy=config.throttle,
            )
            closed = [] if tally.closed is None else [tally.closed]
            audit_this = tally.first_of_window
        else:
            throttle.record_failure(
                session=failure_session, keys=keys, now=now, policy=config.throttle
            )
            closed = throttle.close_ended_windows(
                session=failure_session, now=now, policy=config.throttle
            )
            audit_this = True
        for window in closed:
            _audit_throttled_window(failure_session, window)
        if audit_this:
            # The sign-in form takes a username of any length; the log keeps a clipped one.
            detail: dict[str, object] = {"username": username[:MAX_LOGGED_USERNAME]}
            if reason == "throttled":
                detail["window_seconds"] = config.throttle.tally_window_seconds
            audit.append(
                session=failure_session,
                context=context,
                action=action,
                object_type="user",
                decision="deny",
                reason=reason,
                detail=detail,
            )

    after_rollback(session, effect)


def _audit_throttled_window(session: Session, window: throttle.ClosedWindow) -> None:
    """One record for all throttled sign-in attempts of one source in one window."""
    audit.append(
        session=session,
        context=audit.AuditContext.anonymous(
            source_address=None if window.source == "-" else window.source,
            client=None,
            request_id=None,
        ),
        action="auth.throttled_summary",
        decision="deny",
        reason="throttled",
        detail={
            "attempts": window.attempts,
            "first_at": window.started_at.isoformat(),
            "last_at": window.last_at.isoformat(),
        },
    )


def start_session(
    session: Session,
    user: User,
    stage: str,
    factors: str,
    expires_at: dt.datetime,
    request: RequestInfo,
) -> SignInStep:
    """A new session row in ``stage`` and its token: every sign-in step that succeeds gets one."""
    token = new_session_token()
    session.add(
        UserSession(
            id=digest(token),
            user_id=user.id,
            stage=stage,
            auth_factors=factors,
            expires_at=expires_at,
            source_address=request.source_address,
            client=(request.client or "")[:255] or None,
        )
    )
    session.flush()
    return SignInStep(token=token, stage=stage, user=user, expires_at=expires_at)


def hand_over_session(
    *,
    session: Session,
    config: AuthConfig,
    user: User,
    auth_factors: str,
    via: str,
    request: RequestInfo,
) -> SignInStep:
    """A full session for ``user`` handed over from a live one, without a password: a Matrix
    login token minted by a signed-in browser (``polaris.matrix.login_tokens``). The factors
    are those the minting session proved, so a role that needs MFA gets in only after it.
    Audited as a sign-in, with ``via`` saying how."""
    if user.disabled_at is not None:
        raise NotAuthenticated("wrong username or password", code="invalid_credentials")
    now = utcnow()
    step = start_session(
        session, user, ACTIVE_STAGE, auth_factors, now + config.absolute_timeout, request
    )
    audit.append(
        session=session,
        context=user_context(
            user, request, auth_factors=auth_factors, session_id=digest(step.token)
        ),
        action="auth.login",
        object_type="user",
        object_id=str(user.id),
        detail={"via": via},
    )
    return step


def end_row(row: UserSession, reason: str) -> None:
    """End a session row, saying why (``logout``, ``mfa_passed``...; a session found idle or
    expired is ended apart, after its refusal: ``_end_after``)."""
    row.ended_at = utcnow()
    row.end_reason = reason


def live_row(session: Session, token: str, *, config: AuthConfig) -> tuple[UserSession, User]:
    """The live session row of ``token`` in any stage, and its user (a sign-in step's start)."""
    row, user, _, _ = _live(session, token, config=config)
    return row, user


def live_statement(also: ColumnElement[Any]) -> Select[*tuple[Any, ...]]:
    """The statement that finds a session, with one more column read in it (build it once, at
    import): a domain's fact about the session that would otherwise cost a statement of its own
    on every request (a Matrix access token's device). ``resolve_session(..., statement=...)``
    treats a session for which the column is NULL as unknown."""
    return callers_repo.session_with(also)


def _live(
    session: Session,
    token: str,
    *,
    config: AuthConfig,
    statement: Select[*tuple[Any, ...]] = callers_repo.SESSION_WITH_OWNER,
) -> tuple[UserSession, User, int | None, Any]:
    """The session row of ``token``, its user, the identity stamp (``identity.facts``) and the
    extra column of ``statement`` if any (``live_statement``), in one statement;
    ``NotAuthenticated`` unless the session is live (``identity.liveness``), its user enabled and
    the extra column, when asked for, not NULL (checked first: such a session is not one of this
    kind at all).

    A session found idle or expired is recorded ended after the refusal (:func:`_end_after`).
    """
    now = utcnow()
    found = callers_repo.session_with_owner(session, digest(token), statement)
    if found is None:
        raise NotAuthenticated("session is not valid", code="session_expired")
    row, user, stamp = found[0], found[1], found[2]
    extra = found[3] if len(found) > 3 else None
    if statement is not callers_repo.SESSION_WITH_OWNER and extra is None:
        raise NotAuthenticated("session is not valid", code="session_expired")
    state = state_of(
        row, owner_disabled_at=user.disabled_at, now=now, idle_timeout=config.idle_timeout
    )
    if state.live:
        return row, user, stamp, extra
    if state.end_reason is not None:
        _end_after(session, row, state.end_reason, now)
    if state is SessionState.IDLE or (
        state is SessionState.ENDED and row.end_reason == "idle" and row.expires_at > now
    ):
        # The same answer before and after the idle session's end is recorded.
        raise NotAuthenticated("session expired after inactivity", code="session_expired")
    raise NotAuthenticated("session is not valid", code="session_expired")


def _end_after(session: Session, row: UserSession, reason: str, now: dt.datetime) -> None:
    """Record the session ended (``idle``, ``expired``) once the refusal has rolled back the
    caller's transaction (read-only: it may not write), in a short write transaction of its own
    (``db.uow.after_rollback``). Only the first request to find it over writes: the next finds it
    ended. A live session's requests never get here, so they write nothing more."""
    session_id, last_seen_at = row.id, row.last_seen_at

    def record(later: Session) -> None:
        callers_repo.end_session(
            later, session_id=session_id, reason=reason, at=now, last_seen_at=last_seen_at
        )

    after_rollback(session, record)


@dataclass(frozen=True)
class SignedIn:
    """A live, fully signed-in session: its row, its user, and its last-seen time when due."""

    row: UserSession
    user: User
    touch: Touch | None
    #: The identity stamp read with the row (``identity.facts``), for ``actors.actor_for``.
    stamp: int | None = None
    #: The extra column of the statement it was found with (``live_statement``), else None.
    extra: Any = None


def resolve_session(
    *,
    session: Session,
    config: AuthConfig,
    token: str,
    statement: Select[*tuple[Any, ...]] = callers_repo.SESSION_WITH_OWNER,
) -> SignedIn:
    """The active session and its user; ``NotAuthenticated`` or ``MfaRequired`` otherwise.
    ``statement``: one made by ``live_statement``, to read a fact about the session with it.

    Only reads: a due last-seen time is returned (``touch``), for the caller to write in a write
    transaction (``polaris.identity.seen``).
    """
    row, user, stamp, extra = _live(session, token, config=config, statement=statement)
    if row.stage != ACTIVE_STAGE:
        raise MfaRequired("complete the second sign-in step", code=f"mfa_{row.stage}_required")
    now = utcnow()
    touch = Touch("session", row.id, now) if due(row.last_seen_at, now) else None
    return SignedIn(row=row, user=user, touch=touch, stamp=stamp, extra=extra)


def reauthenticate(
    *, session: Session, config: AuthConfig, user: User, password: str | None, request: RequestInfo
) -> None:
    """The password once more before a sensitive change from a live session (a password
    change, MFA set-up again, a Matrix app deleting devices: user-interactive authentication).
    Throttled and audited like a sign-in, so that someone holding a stolen session cannot guess
    it; ``NotAuthenticated`` (``reauthentication_failed``) when it is wrong."""
    keys = throttle.keys_for(user.username, request.source_address)
    try:
        throttle.check(session=session, keys=keys, now=utcnow())
    except Throttled:
        after_failure(
            session, config, keys, request, "auth.reauthenticate_throttled", user.username,
            "throttled",
        )  # fmt: skip
        raise
    if password is None or not config.passwords.verify(user.password_hash, password).ok:
        after_failure(
            session, config, keys, request, "auth.reauthenticate_failed", user.username,
            "bad_password",
        )  # fmt: skip
        raise NotAuthenticated("password is wrong", code="reauthentication_failed")


def logout(*, session: Session, config: AuthConfig, token: str, request: RequestInfo) -> None:
    row = session.get(UserSession, digest(token))
    if row is None or row.ended_at is not None:
        return
    end_row(row, "logout")
    user = session.get(User, row.user_id)
    if user is not None:
        audit.append(
            session=session,
            context=user_context(user, request, auth_factors=row.auth_factors, session_id=row.id),
            action="auth.logout",
            object_type="user",
            object_id=str(user.id),
        )


def change_password(
    *,
    session: Session,
    config: AuthConfig,
    user: User,
    current_password: str,
    new_password: str,
    keep_session_id: str | None,
    request: RequestInfo,
) -> None:
    """Re-authenticate, check the policy, store, and end every other session of the user."""
    reauthenticate(
        session=session, config=config, user=user, password=current_password, request=request
    )
    check_policy(new_password, username=user.username)
    user.password_hash = config.passwords.hash(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    for row in session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ):
        if row.id != keep_session_id:
            end_row(row, "password_changed")
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors="password", session_id=keep_session_id),
        action="auth.password_change",
        object_type="user",
        object_id=str(user.id),
    )


def end_sessions(*, session: Session, session_ids: list[str], reason: str) -> None:
    """End these sessions (row ids) of a signed-in user's own choosing: a Matrix client deletes
    one of its devices or logs all of them out. The caller audits what it did."""
    if not session_ids:
        return
    for row in session.scalars(
        select(UserSession).where(UserSession.id.in_(session_ids), UserSession.ended_at.is_(None))
    ):
        end_row(row, reason)


def end_session(*, session: Session, session_id: str, context: audit.AuditContext) -> None:
    """An administrator ends one session (the id is the session's hash, as listed)."""
    row = session.get(UserSession, session_id)
    if row is None:
        raise NotFound("session not found")
    if row.ended_at is None:
        end_row(row, "ended_by_admin")
    audit.append(
        session=session,
        context=context,
        action="auth.session_end",
        object_type="session",
        object_id=session_id[:16],
    )


def live_sessions(*, session: Session, user_id: int) -> list[UserSession]:
    now = utcnow()
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now,
            )
            .order_by(UserSession.created_at)
        )
    )
