"""The second factor: the TOTP (or recovery) code that completes a sign-in in the ``mfa`` stage,
and TOTP enrolment, which completes one in the ``enrol`` stage or (from a full session, with the
password again) replaces the secret. The sign-in state machine and its sessions are
``identity.auth``'s; the codes and secrets themselves ``identity.mfa``'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.errors import MfaRequired, NotAuthenticated, Throttled, ValidationFailed
from polaris.identity import auth, mfa, throttle
from polaris.identity.actors import RequestInfo, user_context
from polaris.identity.liveness import ACTIVE_STAGE
from polaris.identity.models import RecoveryCode, User
from polaris.identity.tokens import digest


def verify_mfa(
    *, session: Session, config: auth.AuthConfig, token: str, code: str, request: RequestInfo
) -> auth.SignInStep:
    """Second step: a TOTP code (each usable once) or an unused recovery code."""
    row, user = auth.live_row(session, token, config=config)
    if row.stage != "mfa" or user.mfa_secret_sealed is None:
        raise NotAuthenticated("no second factor is awaited", code="invalid_credentials")
    now = utcnow()
    keys = throttle.keys_for(user.username, request.source_address)
    try:
        throttle.check(session=session, keys=keys, now=now)
    except Throttled:
        auth.after_failure(
            session, config, keys, request, "auth.mfa_throttled", user.username, "throttled"
        )
        raise
    factor = _check_second_factor(session, config, user, code, now)
    if factor is None:
        auth.after_failure(
            session, config, keys, request, "auth.mfa_failed", user.username, "bad_code"
        )
        raise NotAuthenticated("wrong code", code="invalid_code")
    throttle.record_success(
        session=session, username=user.username, source_address=request.source_address, now=now
    )
    auth.end_row(row, "mfa_passed")
    factors = f"password+{factor}"
    step = auth.start_session(
        session, user, ACTIVE_STAGE, factors, now + config.absolute_timeout, request
    )
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors=factors, session_id=digest(step.token)),
        action="auth.login",
        object_type="user",
        object_id=str(user.id),
    )
    return step


def _check_second_factor(
    session: Session, config: auth.AuthConfig, user: User, code: str, now: dt.datetime
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
    *,
    session: Session,
    config: auth.AuthConfig,
    token: str,
    password: str | None,
    request: RequestInfo,
) -> Enrolment:
    """Start (or restart) TOTP set-up. From a full session the password must be given again."""
    row, user = auth.live_row(session, token, config=config)
    if row.stage == "mfa":
        raise MfaRequired("complete the second sign-in step", code="mfa_mfa_required")
    if row.stage == ACTIVE_STAGE:
        auth.reauthenticate(
            session=session, config=config, user=user, password=password, request=request
        )
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
    step: auth.SignInStep | None  # a new full session when enrolment was the last sign-in step


def confirm_enrolment(
    *, session: Session, config: auth.AuthConfig, token: str, code: str, request: RequestInfo
) -> EnrolmentDone:
    row, user = auth.live_row(session, token, config=config)
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
        auth.end_row(row, "mfa_enrolled")
        new_step = auth.start_session(
            session, user, ACTIVE_STAGE, "password+totp", now + config.absolute_timeout, request
        )
    audit.append(
        session=session,
        context=user_context(user, request, auth_factors="password+totp", session_id=row.id),
        action="auth.mfa_enrolled",
        object_type="user",
        object_id=str(user.id),
    )
    return EnrolmentDone(recovery_codes=codes, step=new_step)
