from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from polaris.doctor import accounts
from polaris.doctor.findings import DoctorContext, Finding, Severity
from polaris.identity import program_tokens
from polaris.identity.models import ApiToken, Role, User
from tests.doctor.conftest import by_id
from tests.factories import SYSTEM, build_tree, make_user


def _findings(make_ctx: Callable[..., DoctorContext]) -> dict[str, Finding]:
    return by_id(accounts.check(make_ctx()))


def test_a_fresh_instance_has_no_administrator(
    db_session: Session, make_ctx: Callable[..., DoctorContext]
) -> None:
    build_tree(db_session)
    found = _findings(make_ctx)
    assert found["accounts.admins"].severity is Severity.CRITICAL
    assert found["accounts.old_tokens"].severity is Severity.OK


def test_mfa_per_role_admins_and_handed_over_passwords(
    db_session: Session, make_ctx: Callable[..., DoctorContext]
) -> None:
    build_tree(db_session)
    first = make_user(db_session, "admin.one", unit="PHQ", role="admin")
    make_user(db_session, "ct.one", password="first shared secret 1")
    found = _findings(make_ctx)
    assert found["accounts.admins"].severity is Severity.WARNING  # only one
    assert found["accounts.mfa.admin"].severity is Severity.WARNING  # required, not enrolled
    assert found["accounts.mfa.admin"].value.startswith("0 of 1")
    assert found["accounts.mfa.constable"].severity is Severity.WARNING  # not required
    assert "accounts.handed_over_admin" not in found
    assert found["accounts.handed_over"].severity is Severity.OK

    second = make_user(db_session, "admin.two", unit="PHQ", role="admin")
    for user in (first, second):
        user.mfa_enabled_at = dt.datetime.now(dt.UTC)
    second.must_change_password = True
    db_session.execute(update(Role).where(Role.code == "admin").values(requires_mfa=False))
    found = _findings(make_ctx)
    assert found["accounts.admins"].severity is Severity.OK
    assert found["accounts.mfa.admin"].severity is Severity.CRITICAL  # admins without MFA
    assert found["accounts.handed_over_admin"].severity is Severity.CRITICAL
    assert found["accounts.handed_over_admin"].value == "1: admin.two"

    db_session.execute(update(Role).where(Role.code == "admin").values(requires_mfa=True))
    found = _findings(make_ctx)
    assert found["accounts.mfa.admin"].severity is Severity.OK


def test_accounts_sharing_a_password_hash_are_critical(
    db_session: Session, make_ctx: Callable[..., DoctorContext]
) -> None:
    build_tree(db_session)
    one = make_user(db_session, "ct.one")
    two = make_user(db_session, "ct.two")
    assert _findings(make_ctx)["accounts.shared_password"].severity is Severity.OK
    two.password_hash = one.password_hash  # what ``polaris demo`` does for its accounts
    found = _findings(make_ctx)["accounts.shared_password"]
    assert found.severity is Severity.CRITICAL and found.value == "2: ct.one, ct.two"


def test_tokens_unused_or_old_are_reported(
    db_session: Session, make_ctx: Callable[..., DoctorContext]
) -> None:
    build_tree(db_session)
    user = make_user(db_session, "ct.one")
    issued = program_tokens.create_token(
        session=db_session, user=user, name="script", scopes=["read"], lifetime_days=366,
        context=SYSTEM,
    )  # fmt: skip
    assert _findings(make_ctx)["accounts.old_tokens"].severity is Severity.OK
    token = db_session.get(ApiToken, issued.token.id)
    assert token is not None
    token.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    found = _findings(make_ctx)["accounts.old_tokens"]
    assert found.severity is Severity.WARNING and "never used" in found.value
    token.last_used_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    assert _findings(make_ctx)["accounts.old_tokens"].severity is Severity.OK
    assert db_session.get(User, user.id) is not None
