"""Signing in and out: password, second factor, enrolment, sessions, password change.

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

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.db.uow import after_rollback
from polaris.errors import MfaRequired, NotAuthenticated, NotFound, Throttled, ValidationFailed
from polaris.identity import mfa, throttle
from polaris.identity.actors import RequestInfo, anonymous_context, user_context
from polaris.identity.facts import stamp_column
from polaris.identity.models import RecoveryCode, User, UserSession
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
        _after_failure(session, config, keys, request, "auth.login_throttled", name, "throttled")
        raise
    user = session.scalars(select(User).where(User.username == name)).one_or_none()
    usable = user is not None and user.disabled_at is None
    result = config.passwords.verify(user.password_hash if usable and user else None, password)
    if not result.ok or user is None:
        reason = "unknown_user" if user is None else "disabled" if not usable else "bad_password"
        _after_failure(session, config, keys, request, "auth.login_failed", name, reason)
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
        stage, lifetime = "active", config.absolute_timeout
    step = _start_session(session, user, stage, "password", now + lifetime, request)
    action = "auth.login" if stage == "active" else "auth.password_ok"
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors="password", session_id=digest(step.token)),
        action=action,
        object_type="user",
        object_id=str(user.id),
        detail={"stage": stage},
    )
    return step


def _after_failure(
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


def _start_session(
    session: Session,
    user: User,
    stage: str,
    factors: str,
    expires_at: dt.datetime,
    request: RequestInfo,
) -> SignInStep:
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
    step = _start_session(
        session, user, "active", auth_factors, now + config.absolute_timeout, request
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


def _end(row: UserSession, reason: str) -> None:
    row.ended_at = utcnow()
    row.end_reason = reason


def _live_row(session: Session, token: str, *, config: AuthConfig) -> tuple[UserSession, User]:
    row, user, _ = _live(session, token, config=config)
    return row, user


#: The session row, its user (with role and unit) and the identity stamp: one statement, built
#: once (it runs on every request a browser makes).
_LIVE = (
    select(UserSession, User, stamp_column())
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.id == bindparam("session_id"))
)


def _live(
    session: Session, token: str, *, config: AuthConfig
) -> tuple[UserSession, User, int | None]:
    """The session row of ``token``, its user and the identity stamp (``identity.facts``), in
    one statement; ``NotAuthenticated`` unless the session is live and its user enabled."""
    now = utcnow()
    found = session.execute(_LIVE, {"session_id": digest(token)}).one_or_none()
    if found is None:
        raise NotAuthenticated("session is not valid", code="session_expired")
    row, user, stamp = found
    if row.ended_at is not None or row.expires_at <= now:
        raise NotAuthenticated("session is not valid", code="session_expired")
    if row.stage == "active" and now - row.last_seen_at > config.idle_timeout:
        _end(row, "idle")
        raise NotAuthenticated("session expired after inactivity", code="session_expired")
    if user.disabled_at is not None:
        raise NotAuthenticated("session is not valid", code="session_expired")
    return row, user, stamp


@dataclass(frozen=True)
class SignedIn:
    """A live, fully signed-in session: its row, its user, and its last-seen time when due."""

    row: UserSession
    user: User
    touch: Touch | None
    #: The identity stamp read with the row (``identity.facts``), for ``actors.actor_for``.
    stamp: int | None = None


def resolve_session(*, session: Session, config: AuthConfig, token: str) -> SignedIn:
    """The active session and its user; ``NotAuthenticated`` or ``MfaRequired`` otherwise.

    Only reads: a due last-seen time is returned (``touch``), for the caller to write in a write
    transaction (``polaris.identity.seen``).
    """
    row, user, stamp = _live(session, token, config=config)
    if row.stage != "active":
        raise MfaRequired("complete the second sign-in step", code=f"mfa_{row.stage}_required")
    now = utcnow()
    touch = Touch("session", row.id, now) if due(row.last_seen_at, now) else None
    return SignedIn(row=row, user=user, touch=touch, stamp=stamp)


def verify_mfa(
    *, session: Session, config: AuthConfig, token: str, code: str, request: RequestInfo
) -> SignInStep:
    """Second step: a TOTP code (each usable once) or an unused recovery code."""
    row, user = _live_row(session, token, config=config)
    if row.stage != "mfa" or user.mfa_secret_sealed is None:
        raise NotAuthenticated("no second factor is awaited", code="invalid_credentials")
    now = utcnow()
    keys = throttle.keys_for(user.username, request.source_address)
    try:
        throttle.check(session=session, keys=keys, now=now)
    except Throttled:
        _after_failure(
            session, config, keys, request, "auth.mfa_throttled", user.username, "throttled"
        )
        raise
    factor = _check_second_factor(session, config, user, code, now)
    if factor is None:
        _after_failure(session, config, keys, request, "auth.mfa_failed", user.username, "bad_code")
        raise NotAuthenticated("wrong code", code="invalid_code")
    throttle.record_success(
        session=session, username=user.username, source_address=request.source_address, now=now
    )
    _end(row, "mfa_passed")
    factors = f"password+{factor}"
    step = _start_session(session, user, "active", factors, now + config.absolute_timeout, request)
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors=factors, session_id=digest(step.token)),
        action="auth.login",
        object_type="user",
        object_id=str(user.id),
    )
    return step


def _check_second_factor(
    session: Session, config: AuthConfig, user: User, code: str, now: dt.datetime
) -> str | None:
    assert user.mfa_secret_sealed is not None
    if mfa.looks_like_recovery_code(code):
        recovery = session.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == mfa.hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
        ).one_or_none()
        if recovery is None:
            return None
        recovery.used_at = now
        return "recovery"
    secret = mfa.open_secret(config.mfa_key, user.mfa_secret_sealed, user_id=user.id)
    step = mfa.match_step(secret, code, last_used_step=user.mfa_last_step, at=now.timestamp())
    if step is None:
        return None
    user.mfa_last_step = step
    return "totp"


@dataclass(frozen=True)
class Enrolment:
    secret: str
    provisioning_uri: str


def begin_enrolment(
    *, session: Session, config: AuthConfig, token: str, password: str | None, request: RequestInfo
) -> Enrolment:
    """Start (or restart) TOTP set-up. From a full session the password must be given again."""
    row, user = _live_row(session, token, config=config)
    if row.stage == "mfa":
        raise MfaRequired("complete the second sign-in step", code="mfa_mfa_required")
    if row.stage == "active":
        _reauthenticate(session, config, user, password, request)
    secret = mfa.new_secret()
    user.mfa_secret_sealed = mfa.seal_secret(config.mfa_key, secret, user_id=user.id)
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors=row.auth_factors, session_id=row.id),
        action="auth.mfa_enrol_begin",
        object_type="user",
        object_id=str(user.id),
    )
    return Enrolment(
        secret=secret,
        provisioning_uri=mfa.provisioning_uri(secret, username=user.username, issuer=config.issuer),
    )


@dataclass(frozen=True)
class EnrolmentDone:
    recovery_codes: list[str]
    step: SignInStep | None  # a new full session when enrolment was the last sign-in step


def confirm_enrolment(
    *, session: Session, config: AuthConfig, token: str, code: str, request: RequestInfo
) -> EnrolmentDone:
    row, user = _live_row(session, token, config=config)
    if row.stage == "mfa" or user.mfa_secret_sealed is None or user.mfa_enabled_at is not None:
        raise ValidationFailed("no enrolment in progress", code="no_enrolment")
    now = utcnow()
    secret = mfa.open_secret(config.mfa_key, user.mfa_secret_sealed, user_id=user.id)
    step_no = mfa.match_step(secret, code, last_used_step=None, at=now.timestamp())
    if step_no is None:
        raise ValidationFailed("wrong code", code="invalid_code")
    user.mfa_enabled_at = now
    user.mfa_last_step = step_no
    codes = mfa.new_recovery_codes()
    for existing in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(existing)
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=mfa.hash_recovery_code(c)) for c in codes
    )
    new_step = None
    if row.stage == "enrol":
        _end(row, "mfa_enrolled")
        new_step = _start_session(
            session, user, "active", "password+totp", now + config.absolute_timeout, request
        )
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors="password+totp", session_id=row.id),
        action="auth.mfa_enrolled",
        object_type="user",
        object_id=str(user.id),
    )
    return EnrolmentDone(recovery_codes=codes, step=new_step)


def _reauthenticate(
    session: Session, config: AuthConfig, user: User, password: str | None, request: RequestInfo
) -> None:
    """The password once more, for a sensitive change from a live session. Throttled and
    audited like a sign-in, so that someone holding a stolen session cannot guess it."""
    keys = throttle.keys_for(user.username, request.source_address)
    try:
        throttle.check(session=session, keys=keys, now=utcnow())
    except Throttled:
        _after_failure(
            session, config, keys, request, "auth.reauthenticate_throttled", user.username,
            "throttled",
        )  # fmt: skip
        raise
    if password is None or not config.passwords.verify(user.password_hash, password).ok:
        _after_failure(
            session, config, keys, request, "auth.reauthenticate_failed", user.username,
            "bad_password",
        )  # fmt: skip
        raise NotAuthenticated("password is wrong", code="reauthentication_failed")


def reauthenticate(
    *, session: Session, config: AuthConfig, user: User, password: str | None, request: RequestInfo
) -> None:
    """The password once more before a sensitive change from a live session (a Matrix app
    deleting devices: user-interactive authentication). Throttled and audited like a sign-in;
    ``NotAuthenticated`` (``reauthentication_failed``) when it is wrong."""
    _reauthenticate(session, config, user, password, request)


def logout(*, session: Session, config: AuthConfig, token: str, request: RequestInfo) -> None:
    row = session.get(UserSession, digest(token))
    if row is None or row.ended_at is not None:
        return
    _end(row, "logout")
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
    _reauthenticate(session, config, user, current_password, request)
    check_policy(new_password, username=user.username)
    user.password_hash = config.passwords.hash(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    for row in session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ):
        if row.id != keep_session_id:
            _end(row, "password_changed")
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
        _end(row, reason)


def end_session(*, session: Session, session_id: str, context: audit.AuditContext) -> None:
    """An administrator ends one session (the id is the session's hash, as listed)."""
    row = session.get(UserSession, session_id)
    if row is None:
        raise NotFound("session not found")
    if row.ended_at is None:
        _end(row, "ended_by_admin")
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
