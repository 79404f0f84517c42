"""Sign-in: passwords, throttling, sessions, MFA with one-time codes, and API tokens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.db.uow import transaction
from polaris.errors import MfaRequired, NotAuthenticated, Throttled, ValidationFailed
from polaris.identity import auth, callers_repo, mfa, program_tokens, second_factor
from polaris.identity.actors import RequestInfo
from polaris.identity.models import ApiToken, LoginThrottle, User, UserSession
from polaris.identity.passwords import Argon2Parameters, Passwords, VerifyResult
from polaris.identity.tokens import digest
from tests.factories import PASSWORD, SYSTEM, auth_config, build_tree, make_user

REQUEST = RequestInfo(source_address="10.1.2.3", client="pytest", request_id="r1")


def login(
    session: Session, username: str, password: str = PASSWORD, **config: object
) -> auth.SignInStep:
    session.commit()  # the test's setup; the fixture rolls everything back at the end
    with transaction(session):
        return auth.login(
            session=session,
            config=auth_config(**config),
            username=username,
            password=password,
            request=REQUEST,
        )


def audit_actions(session: Session) -> list[tuple[str, str, str | None]]:
    rows = session.execute(
        select(AuditRecord.action, AuditRecord.decision, AuditRecord.reason).order_by(
            AuditRecord.id
        )
    ).all()
    return [(r.action, r.decision, r.reason) for r in rows]


def test_login_starts_a_session_with_a_fresh_token(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "ct.kotwali")
    first = login(db_session, "ct.kotwali")
    second = login(db_session, "CT.Kotwali")
    assert first.stage == second.stage == "active"
    assert first.token != second.token
    assert len(first.token) >= 43  # 256 bits, URL-safe base64
    signed_in = auth.resolve_session(session=db_session, config=auth_config(), token=first.token)
    row, user = signed_in.row, signed_in.user
    assert user.username == "ct.kotwali"
    assert row.id == digest(first.token)  # only the hash is stored
    assert ("auth.login", "allow", None) in audit_actions(db_session)


def test_wrong_password_and_unknown_user_answer_alike_and_are_audited(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "known")
    answers = []
    for username in ("known", "nobody"):
        with pytest.raises(NotAuthenticated) as raised:
            login(db_session, username, "wrong password here")
        answers.append((raised.value.code, raised.value.detail, raised.value.status))
    assert answers[0] == answers[1]
    failures = [a for a in audit_actions(db_session) if a[0] == "auth.login_failed"]
    assert failures == [
        ("auth.login_failed", "deny", "bad_password"),
        ("auth.login_failed", "deny", "unknown_user"),
    ]


class CountingPasswords(Passwords):
    def __init__(self) -> None:
        super().__init__(Argon2Parameters(memory_kib=1024))
        self.verified: list[str | None] = []

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        self.verified.append(stored_hash)
        return super().verify(stored_hash, password)


def test_unknown_user_costs_a_full_password_check(db_session: Session) -> None:
    build_tree(db_session)
    counting = CountingPasswords()
    with pytest.raises(NotAuthenticated):
        login(db_session, "nobody", "whatever password", passwords=counting)
    assert counting.verified == [None]  # verify(None) hashes against a real dummy argon2id hash


def test_backoff_after_repeated_failures_without_locking_the_account(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "target")
    for _ in range(4):
        with pytest.raises(NotAuthenticated):
            login(db_session, "target", "not the password")
    with pytest.raises(Throttled) as raised:
        login(db_session, "target")  # even the right password waits
    assert 0 < raised.value.retry_after <= 2
    # Once the wait has passed, the right password works (no hard lock-out).
    for row in db_session.scalars(select(LoginThrottle)):
        row.blocked_until = utcnow() - dt.timedelta(seconds=1)
    db_session.flush()
    assert login(db_session, "target").stage == "active"
    account = db_session.scalars(
        select(LoginThrottle).where(LoginThrottle.key == "account:target")
    ).one()
    assert account.consecutive_failures == 0


def test_hourly_cap_per_account(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "target")
    with pytest.raises(NotAuthenticated):
        login(
            db_session,
            "target",
            "bad password one",
            throttle=auth.throttle.ThrottlePolicy(free_failures=1000, max_failures_per_hour=1),
        )
    row = db_session.scalars(
        select(LoginThrottle).where(LoginThrottle.key == "account:target")
    ).one()
    assert row.blocked_until is not None
    assert row.blocked_until >= row.window_started_at + dt.timedelta(minutes=59)


def _resolve_refused(session: Session, token: str) -> NotAuthenticated:
    """Resolve ``token`` as a request does (a read-only transaction) and return the refusal."""
    session.commit()  # the test's changes; the fixture rolls everything back at the end
    with pytest.raises(NotAuthenticated) as refused, transaction(session, read_only=True):
        auth.resolve_session(session=session, config=auth_config(), token=token)
    return refused.value


def test_idle_and_absolute_expiry_are_refused_and_recorded_ended(db_session: Session) -> None:
    """A session found over is refused, and recorded ended after the refusal's rollback: a
    refused session is closed, not only turned away. The next request gets the same refusal
    and writes nothing."""
    build_tree(db_session)
    make_user(db_session, "idle")
    over = {
        "idle": (
            "last_seen_at",
            utcnow() - dt.timedelta(minutes=31),
            "session expired after inactivity",
        ),
        "expired": ("expires_at", utcnow() - dt.timedelta(seconds=1), "session is not valid"),
    }
    for reason, (column, value, detail) in over.items():
        step = login(db_session, "idle")
        row = db_session.get(UserSession, digest(step.token))
        assert row is not None
        setattr(row, column, value)
        refused = _resolve_refused(db_session, step.token)
        assert (refused.code, refused.detail) == ("session_expired", detail)
        db_session.refresh(row)
        assert row.ended_at is not None and row.end_reason == reason
        ended_at = row.ended_at
        again = _resolve_refused(db_session, step.token)
        assert (again.code, again.detail) == ("session_expired", detail)
        db_session.refresh(row)
        assert (row.ended_at, row.end_reason) == (ended_at, reason)


def test_a_session_used_after_it_was_found_idle_is_not_recorded_ended(
    db_session: Session,
) -> None:
    """The end is recorded only if nobody used the session since it was found idle (a request
    that found it live just before wrote a later last-seen time)."""
    build_tree(db_session)
    make_user(db_session, "racer")
    step = login(db_session, "racer")
    row = db_session.get(UserSession, digest(step.token))
    assert row is not None
    found_idle = utcnow() - dt.timedelta(minutes=31)
    callers_repo.end_session(
        db_session, session_id=row.id, reason="idle", at=utcnow(), last_seen_at=found_idle
    )
    db_session.refresh(row)
    assert row.ended_at is None


def test_forged_and_logged_out_session_tokens_are_refused(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "someone")
    config = auth_config()
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(session=db_session, config=config, token="forged-token-value")
    step = login(db_session, "someone")
    auth.logout(session=db_session, config=config, token=step.token, request=REQUEST)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(session=db_session, config=config, token=step.token)


def enrol(session: Session, username: str) -> tuple[str, list[str]]:
    """Sign in a user whose role requires MFA for the first time and enrol; return the secret."""
    config = auth_config()
    step = login(session, username)
    assert step.stage == "enrol"
    with pytest.raises(MfaRequired):
        auth.resolve_session(session=session, config=config, token=step.token)
    started = second_factor.begin_enrolment(
        session=session, config=config, token=step.token, password=None, request=REQUEST
    )
    assert started.provisioning_uri.startswith("otpauth://totp/")
    done = second_factor.confirm_enrolment(
        session=session,
        config=config,
        token=step.token,
        code=mfa.current_code(started.secret),
        request=REQUEST,
    )
    assert done.step is not None and done.step.stage == "active"
    assert done.step.token != step.token
    with pytest.raises(NotAuthenticated):  # the enrolment-stage token is spent
        auth.resolve_session(session=session, config=config, token=step.token)
    auth.resolve_session(session=session, config=config, token=done.step.token)
    return started.secret, done.recovery_codes


def test_supervisory_role_must_enrol_then_each_code_works_once(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "sho.kotwali", role="station_head")
    secret, _codes = enrol(db_session, "sho.kotwali")
    config = auth_config()
    step = login(db_session, "sho.kotwali")
    assert step.stage == "mfa"
    # Codes by time step, not by the clock: a 30 s boundary may pass while the test runs.
    enrolled = db_session.scalars(select(User).where(User.username == "sho.kotwali")).one()
    assert enrolled.mfa_last_step is not None
    used_at_enrolment = mfa.current_code(secret, at=enrolled.mfa_last_step * 30)
    db_session.commit()
    # The code used to enrol cannot sign in again.
    with pytest.raises(NotAuthenticated), transaction(db_session):
        second_factor.verify_mfa(
            session=db_session,
            config=config,
            token=step.token,
            code=used_at_enrolment,
            request=REQUEST,
        )
    next_code = mfa.current_code(secret, at=(enrolled.mfa_last_step + 1) * 30)
    done = second_factor.verify_mfa(
        session=db_session, config=config, token=step.token, code=next_code, request=REQUEST
    )
    assert done.stage == "active"
    again = login(db_session, "sho.kotwali")
    with pytest.raises(NotAuthenticated):
        second_factor.verify_mfa(
            session=db_session, config=config, token=again.token, code=next_code, request=REQUEST
        )


def test_recovery_code_works_once(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "sp.bhopal", role="district_head", unit="DST-A")
    _secret, codes = enrol(db_session, "sp.bhopal")
    assert len(codes) == 10 and len(set(codes)) == 10
    config = auth_config()
    step = login(db_session, "sp.bhopal")
    done = second_factor.verify_mfa(
        session=db_session, config=config, token=step.token, code=codes[0].upper(), request=REQUEST
    )
    assert done.stage == "active"
    step = login(db_session, "sp.bhopal")
    with pytest.raises(NotAuthenticated):
        second_factor.verify_mfa(
            session=db_session, config=config, token=step.token, code=codes[0], request=REQUEST
        )


def test_changing_mfa_from_a_full_session_needs_the_password(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "ct.a")
    config = auth_config()
    step = login(db_session, "ct.a")
    with pytest.raises(NotAuthenticated, match="password"):
        second_factor.begin_enrolment(
            session=db_session, config=config, token=step.token, password=None, request=REQUEST
        )
    started = second_factor.begin_enrolment(
        session=db_session, config=config, token=step.token, password=PASSWORD, request=REQUEST
    )
    with pytest.raises(ValidationFailed):
        second_factor.confirm_enrolment(
            session=db_session,
            config=config,
            token=step.token,
            code="000000" if mfa.current_code(started.secret) != "000000" else "111111",
            request=REQUEST,
        )


def test_password_change_needs_the_current_one_and_ends_other_sessions(db_session: Session) -> None:
    build_tree(db_session)
    user = make_user(db_session, "changer")
    config = auth_config()
    keep, other = login(db_session, "changer"), login(db_session, "changer")
    with pytest.raises(NotAuthenticated):
        auth.change_password(
            session=db_session,
            config=config,
            user=user,
            current_password="wrong one",
            new_password="a new passphrase",
            keep_session_id=digest(keep.token),
            request=REQUEST,
        )
    auth.change_password(
        session=db_session,
        config=config,
        user=user,
        current_password=PASSWORD,
        new_password="a new passphrase",
        keep_session_id=digest(keep.token),
        request=REQUEST,
    )
    auth.resolve_session(session=db_session, config=config, token=keep.token)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(session=db_session, config=config, token=other.token)


def test_api_tokens_forged_expired_revoked(db_session: Session) -> None:
    build_tree(db_session)
    user = make_user(db_session, "script")
    issued = program_tokens.create_token(
        session=db_session,
        user=user,
        name="rclone",
        scopes=["read"],
        lifetime_days=7,
        context=SYSTEM,
    )
    found = program_tokens.resolve_token(session=db_session, secret=issued.secret)
    token, owner = found.token, found.user
    assert owner.id == user.id and token.scopes == ["read"]
    stored = db_session.scalars(select(ApiToken.token_hash)).all()
    assert issued.secret not in stored  # hashed at rest
    with pytest.raises(NotAuthenticated):
        program_tokens.resolve_token(session=db_session, secret=issued.secret[:-1] + "x")
    issued.token.expires_at = utcnow() - dt.timedelta(seconds=1)
    with pytest.raises(NotAuthenticated):
        program_tokens.resolve_token(session=db_session, secret=issued.secret)
    second = program_tokens.create_token(
        session=db_session, user=user, name="b", scopes=["write"], lifetime_days=1, context=SYSTEM
    )
    program_tokens.revoke_token(
        session=db_session, user=user, token_id=second.token.id, context=SYSTEM
    )
    with pytest.raises(NotAuthenticated):
        program_tokens.resolve_token(session=db_session, secret=second.secret)
    with pytest.raises(ValidationFailed):
        program_tokens.create_token(
            session=db_session,
            user=user,
            name="c",
            scopes=["root"],
            lifetime_days=1,
            context=SYSTEM,
        )


def test_disabled_user_cannot_sign_in_and_gets_the_same_answer(db_session: Session) -> None:
    build_tree(db_session)
    user = make_user(db_session, "gone")
    user.disabled_at = utcnow()
    with pytest.raises(NotAuthenticated) as raised:
        login(db_session, "gone")
    assert raised.value.code == "invalid_credentials"
    assert db_session.get(User, user.id) is not None


def test_guessing_the_current_password_from_a_live_session_is_throttled_and_audited(
    db_session: Session,
) -> None:
    build_tree(db_session)
    user = make_user(db_session, "stolen")
    step = login(db_session, "stolen")

    def change(current: str) -> None:
        with transaction(db_session):
            auth.change_password(
                session=db_session,
                config=auth_config(),
                user=db_session.get(User, user.id),  # type: ignore[arg-type]
                current_password=current,
                new_password="attacker's new passphrase",
                keep_session_id=digest(step.token),
                request=REQUEST,
            )

    for guess in range(4):
        with pytest.raises(NotAuthenticated):
            change(f"guess number {guess}")
    with pytest.raises(Throttled):
        change(PASSWORD)  # even the right password waits now
    actions = [action for action, _, _ in audit_actions(db_session)]
    assert actions.count("auth.reauthenticate_failed") == 4
    assert "auth.reauthenticate_throttled" in actions
    assert "auth.password_change" not in actions


def login_from(
    session: Session,
    username: str,
    password: str,
    source: str,
    policy: auth.throttle.ThrottlePolicy,
) -> auth.SignInStep:
    session.commit()
    with transaction(session):
        return auth.login(
            session=session,
            config=auth_config(throttle=policy),
            username=username,
            password=password,
            request=RequestInfo(source_address=source, client="x" * 5000, request_id="r"),
        )


def test_throttled_attempts_are_audited_once_per_window_with_their_count(
    db_session: Session,
) -> None:
    build_tree(db_session)
    # Waits long enough that no attempt below outlasts them, however slow the machine.
    policy = auth.throttle.ThrottlePolicy(
        free_failures=0, base_delay_seconds=600, tally_window_seconds=300
    )
    before = db_session.scalar(select(func.count()).select_from(AuditRecord))
    with pytest.raises(NotAuthenticated):
        login_from(db_session, "nobody", "a wrong password", "10.9.9.9", policy)
    for _ in range(40):  # a client hammering while it waits
        with pytest.raises(Throttled):
            login_from(db_session, "nobody", "a wrong password", "10.9.9.9", policy)
    throttled = [a for a in audit_actions(db_session) if a[0] == "auth.login_throttled"]
    assert throttled == [("auth.login_throttled", "deny", "throttled")]
    # The window ends: the next failure anywhere closes it into one summary with the count.
    tally = db_session.scalars(select(auth.throttle.LoginThrottleTally)).one()
    tally.window_started_at -= dt.timedelta(seconds=301)
    with pytest.raises(NotAuthenticated):
        login_from(db_session, "someone", "a wrong password", "10.7.7.7", policy)
    summary = db_session.scalars(
        select(AuditRecord).where(AuditRecord.action == "auth.throttled_summary")
    ).one()
    assert summary.source_address == "10.9.9.9"
    assert summary.detail is not None and '"attempts":40' in summary.detail
    records = db_session.scalar(select(func.count()).select_from(AuditRecord))
    assert records == before + 4  # failure, first throttled, failure from elsewhere, summary


def test_one_accounts_failures_do_not_make_others_behind_the_same_address_wait(
    db_session: Session,
) -> None:
    build_tree(db_session)
    policy = auth.throttle.ThrottlePolicy(base_delay_seconds=600)
    names = [f"ct.station{n}" for n in range(8)]
    for name in names:
        make_user(db_session, name)
    for _ in range(policy.free_failures + 3):
        with pytest.raises((NotAuthenticated, Throttled)):
            login_from(db_session, names[0], "typo typo typo", "10.20.0.1", policy)
    with pytest.raises(Throttled):
        login_from(db_session, names[0], PASSWORD, "10.20.0.1", policy)  # that account waits
    for name in names[1:]:
        assert login_from(db_session, name, PASSWORD, "10.20.0.1", policy).stage == "active"


def test_one_address_trying_many_usernames_is_stopped(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "real.user")
    policy = auth.throttle.ThrottlePolicy(source_free_failures=6, base_delay_seconds=600)
    for n in range(policy.source_free_failures + 1):
        with pytest.raises(NotAuthenticated):
            login_from(db_session, f"guess{n}", "Password123!", "10.66.0.1", policy)
    with pytest.raises(Throttled):
        login_from(db_session, "real.user", PASSWORD, "10.66.0.1", policy)
    # Another address is not affected.
    assert login_from(db_session, "real.user", PASSWORD, "10.66.0.2", policy).stage == "active"


def test_a_very_long_username_is_throttled_like_any_other(db_session: Session) -> None:
    """The sign-in form takes a username of any length; its throttle keys still fit."""
    build_tree(db_session)
    policy = auth.throttle.ThrottlePolicy(free_failures=0, base_delay_seconds=600)
    long_name, long_address = "क" * 5000, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
    with pytest.raises(NotAuthenticated):
        login_from(db_session, long_name, "a wrong password", long_address, policy)
    with pytest.raises(Throttled):
        login_from(db_session, long_name, "a wrong password", long_address, policy)
    keys = db_session.scalars(select(LoginThrottle.key)).all()
    assert keys and all(len(key) <= 160 for key in keys)
