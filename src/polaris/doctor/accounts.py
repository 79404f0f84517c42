"""Accounts: MFA per role, how many administrators, handed-over passwords, old API tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.doctor.findings import DoctorContext, Finding, Severity, age_text
from polaris.identity.models import ApiToken, Role, User

#: Fewer administrators than this: one lost phone locks the instance out of its settings.
MIN_ADMINS = 2
#: More than this: each is a key to everything; an auditor asks why so many.
MAX_ADMINS = 5
#: An active token not used for this long is probably forgotten on some machine.
TOKEN_UNUSED_DAYS = 90
#: An active token older than this should have been replaced.
TOKEN_MAX_AGE_DAYS = 365


def check(ctx: DoctorContext) -> Iterator[Finding]:
    with ctx.read_sessions() as session:
        yield from mfa_coverage(session)
        yield administrators(session)
        yield from handed_over_passwords(session)
        yield shared_passwords(session)
        yield old_tokens(session, now=ctx.now)


def mfa_coverage(session: Session) -> Iterator[Finding]:
    """One finding per role that has active users: does it require MFA, and who has enrolled."""
    rows = session.execute(
        select(
            Role.code,
            Role.is_admin,
            Role.requires_mfa,
            func.count(User.id),
            func.count(User.mfa_enabled_at),
        )
        .join(User, User.role_code == Role.code)
        .where(User.disabled_at.is_(None))
        .group_by(Role.code, Role.is_admin, Role.requires_mfa)
        .order_by(Role.code)
    ).all()
    for code, is_admin, requires, users, enrolled in rows:
        finding_id = f"accounts.mfa.{code}"
        checked = f"MFA for role {code}" + (" (administrators)" if is_admin else "")
        value = f"{enrolled} of {users} active users enrolled; required: {str(requires).lower()}"
        if not requires:
            yield Finding(
                finding_id,
                Severity.CRITICAL if is_admin else Severity.WARNING,
                checked,
                value,
                f"require MFA for role {code} (its users enrol at their next sign-in)",
            )
        elif enrolled < users:
            yield Finding(
                finding_id,
                Severity.WARNING,
                checked,
                value,
                "the others are made to enrol at their next sign-in; follow up with those "
                "who never sign in",
            )
        else:
            yield Finding(finding_id, Severity.OK, checked, value)


def administrators(session: Session) -> Finding:
    count = session.scalar(
        select(func.count(User.id))
        .join(Role, User.role_code == Role.code)
        .where(Role.is_admin, User.disabled_at.is_(None))
    )
    count = count or 0
    checked = f"active administrators: between {MIN_ADMINS} and {MAX_ADMINS}"
    if count == 0:
        return Finding(
            "accounts.admins",
            Severity.CRITICAL,
            checked,
            "0",
            "create one: polaris user add NAME --role admin ...",
        )
    if count < MIN_ADMINS:
        return Finding(
            "accounts.admins",
            Severity.WARNING,
            checked,
            str(count),
            "name a second administrator, so that one lost phone or absence does not lock "
            "the instance's administration",
        )
    if count > MAX_ADMINS:
        return Finding(
            "accounts.admins",
            Severity.WARNING,
            checked,
            str(count),
            "review who needs the administrator role; give the others a narrower role",
        )
    return Finding("accounts.admins", Severity.OK, checked, str(count))


def handed_over_passwords(session: Session) -> Iterator[Finding]:
    """Passwords an administrator handed over (``init --admin``, ``user add``, a reset) that
    their holder never replaced: whoever saw the printout can sign in."""
    rows = session.execute(
        select(User.username, Role.is_admin)
        .join(Role, User.role_code == Role.code)
        .where(User.must_change_password, User.disabled_at.is_(None))
        .order_by(User.username)
    ).all()
    admins = [name for name, is_admin in rows if is_admin]
    others = [name for name, is_admin in rows if not is_admin]
    checked = "active accounts still on a handed-over password (never changed by their holder)"
    if admins:
        yield Finding(
            "accounts.handed_over_admin",
            Severity.CRITICAL,
            checked + ": administrators",
            _names(admins),
            "sign in and change the password now, or disable the account",
        )
    yield Finding(
        "accounts.handed_over",
        Severity.WARNING if others else Severity.OK,
        checked,
        _names(others) if others else "none",
        "ask these officers to sign in and change it, or disable the accounts not in use"
        if others
        else "",
    )


def shared_passwords(session: Session) -> Finding:
    """Accounts with one and the same password hash (salt included) share a password set at
    once for all of them, as ``polaris demo`` does: nothing a real instance should hold."""
    hashes = (
        select(User.password_hash)
        .where(User.password_hash.is_not(None), User.disabled_at.is_(None))
        .group_by(User.password_hash)
        .having(func.count(User.id) > 1)
    )
    names = list(
        session.scalars(
            select(User.username)
            .where(User.password_hash.in_(hashes), User.disabled_at.is_(None))
            .order_by(User.username)
        )
    )
    checked = "active accounts sharing one password (demo accounts)"
    if names:
        return Finding(
            "accounts.shared_password",
            Severity.CRITICAL,
            checked,
            _names(names),
            "a demo organisation is no production instance: reset or disable these accounts",
        )
    return Finding("accounts.shared_password", Severity.OK, checked, "none")


def old_tokens(session: Session, *, now: dt.datetime) -> Finding:
    unused_since = now - dt.timedelta(days=TOKEN_UNUSED_DAYS)
    created_before = now - dt.timedelta(days=TOKEN_MAX_AGE_DAYS)
    rows = session.execute(
        select(ApiToken.id, ApiToken.prefix, ApiToken.created_at, ApiToken.last_used_at)
        .where(ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.id)
    ).all()
    old = [
        f"{prefix} (#{token_id}, {_token_age(created, used, now)})"
        for token_id, prefix, created, used in rows
        if created < created_before or (used or created) < unused_since
    ]
    checked = (
        f"active API tokens unused for {TOKEN_UNUSED_DAYS} days or older than "
        f"{TOKEN_MAX_AGE_DAYS} days"
    )
    if old:
        return Finding(
            "accounts.old_tokens",
            Severity.WARNING,
            checked,
            _names(old),
            "have their owners revoke the ones no one needs (DELETE /api/v1/tokens/ID) and "
            "replace the others",
        )
    return Finding("accounts.old_tokens", Severity.OK, checked, f"none of {len(rows)}")


def _token_age(created: dt.datetime, used: dt.datetime | None, now: dt.datetime) -> str:
    last = "never used" if used is None else f"last used {age_text(now - used)} ago"
    return f"made {age_text(now - created)} ago, {last}"


def _names(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{len(names)}: {shown}{more}"
