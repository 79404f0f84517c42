"""Users: creation rules, CSV import, disabling, resets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.errors import Conflict, ValidationFailed
from polaris.identity import auth, program_tokens, users
from polaris.identity.actors import RequestInfo
from polaris.identity.csvrows import ImportRejected
from polaris.identity.models import User, UserSession
from tests.factories import FAST_PASSWORDS, PASSWORD, SYSTEM, auth_config, build_tree, make_user

USERS_CSV = """username,full_name,unit_code,role,rank,clearance
Ramesh.Sharma,रमेश शर्मा,PS-A1,constable,Constable,
sunita.verma,Sunita Verma,PS-A1,station_head,TI,confidential
"""


def user_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def test_import_generates_first_sign_in_passwords(db_session: Session) -> None:
    build_tree(db_session)
    created = users.import_users_csv(
        session=db_session, data=USERS_CSV.encode(), passwords=FAST_PASSWORDS, context=SYSTEM
    )
    assert [c.user.username for c in created] == ["ramesh.sharma", "sunita.verma"]
    assert all(c.initial_password and len(c.initial_password) == 16 for c in created)
    assert all(c.user.must_change_password for c in created)
    assert created[1].user.clearance == Classification.CONFIDENTIAL
    assert created[0].user.full_name == "रमेश शर्मा"
    first = created[0]
    assert first.initial_password is not None
    assert FAST_PASSWORDS.verify(first.user.password_hash, first.initial_password).ok


@pytest.mark.parametrize(
    ("line", "row", "reason"),
    [
        ("x,Bad Name,PS-A1,constable,,", 2, "username must be"),
        ("new.user,New,PS-Z9,constable,,", 2, "PS-Z9 is not a known unit"),
        ("new.user,New,PS-A1,wizard,,", 2, "wizard is not a known role"),
        ("new.user,New,PS-A1,constable,,secret", 2, "above what role"),
        ("new.user,New,PS-A1,constable,,ultra", 2, "unknown clearance"),
        ("existing,Again,PS-A1,constable,,", 2, "already exists"),
    ],
)
def test_a_bad_row_rejects_the_whole_import(
    db_session: Session, line: str, row: int, reason: str
) -> None:
    build_tree(db_session)
    make_user(db_session, "existing")
    before = user_count(db_session)
    data = f"username,full_name,unit_code,role,rank,clearance\n{line}\n".encode()
    with pytest.raises(ImportRejected) as raised:
        users.import_users_csv(
            session=db_session, data=data, passwords=FAST_PASSWORDS, context=SYSTEM
        )
    assert any(e.row == row and reason in e.text for e in raised.value.errors), raised.value.errors
    assert user_count(db_session) == before


def test_duplicate_usernames_in_one_file_name_both_rows(db_session: Session) -> None:
    build_tree(db_session)
    data = b"username,full_name,unit_code,role\na.b,A,PS-A1,constable\nA.B,A,PS-A1,constable\n"
    with pytest.raises(ImportRejected) as raised:
        users.import_users_csv(
            session=db_session, data=data, passwords=FAST_PASSWORDS, context=SYSTEM
        )
    assert "first on row 2" in raised.value.errors[0].text
    assert raised.value.errors[0].row == 3


def test_wrong_columns_are_refused(db_session: Session) -> None:
    build_tree(db_session)
    with pytest.raises(ImportRejected, match="missing columns: role"):
        users.import_users_csv(
            session=db_session,
            data=b"username,full_name,unit_code\n",
            passwords=FAST_PASSWORDS,
            context=SYSTEM,
        )


def test_common_password_is_refused(db_session: Session) -> None:
    build_tree(db_session)
    with pytest.raises(ValidationFailed, match="too weak"):
        make_user(db_session, "weak", password="password123")


def test_duplicate_username_conflicts(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "twice")
    with pytest.raises(Conflict):
        make_user(db_session, "Twice")


def test_disabling_ends_every_session_and_token_at_once(db_session: Session) -> None:
    build_tree(db_session)
    user = make_user(db_session, "leaving")
    config = auth_config()
    request = RequestInfo(source_address="10.0.0.1")
    steps = [
        auth.login(
            session=db_session,
            config=config,
            username="leaving",
            password=PASSWORD,
            request=request,
        )
        for _ in range(2)
    ]
    issued = program_tokens.create_token(
        session=db_session,
        user=user,
        name="sync",
        scopes=["read"],
        lifetime_days=30,
        context=SYSTEM,
    )
    users.disable_user(session=db_session, username="leaving", context=SYSTEM)
    for step in steps:
        with pytest.raises(Exception, match="not valid"):
            auth.resolve_session(session=db_session, config=config, token=step.token)
    with pytest.raises(Exception, match="not valid"):
        program_tokens.resolve_token(session=db_session, secret=issued.secret)
    live = db_session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.ended_at.is_(None))
    )
    assert live == 0


def test_reset_password_keeps_mfa_and_ends_sessions(db_session: Session) -> None:
    build_tree(db_session)
    user = make_user(db_session, "forgetful")
    user.mfa_secret_sealed = b"sealed"
    generated = users.reset_password(
        session=db_session, username="forgetful", passwords=FAST_PASSWORDS, context=SYSTEM
    )
    assert generated is not None
    assert FAST_PASSWORDS.verify(user.password_hash, generated).ok
    assert user.must_change_password
    assert user.mfa_secret_sealed == b"sealed"


def test_check_hash_insert_is_the_import_in_three_steps(db_session: Session) -> None:
    build_tree(db_session)
    before = user_count(db_session)
    rows = users.check_users_csv(session=db_session, data=USERS_CSV.encode())
    assert [(row.line, row.spec.username) for row in rows] == [
        (2, "Ramesh.Sharma"),
        (3, "sunita.verma"),
    ]
    assert user_count(db_session) == before  # checking changes nothing
    steps: list[tuple[int, int]] = []
    hashed = users.hash_import_rows(
        rows, passwords=FAST_PASSWORDS, progress=lambda done, total: steps.append((done, total))
    )
    assert steps == [(1, 2), (2, 2)]
    assert all(h.initial_password and len(h.initial_password) == 16 for h in hashed)
    created = users.insert_imported_users(session=db_session, rows=hashed, context=SYSTEM)
    assert user_count(db_session) == before + 2
    for made, row in zip(created, hashed, strict=True):
        assert made.initial_password == row.initial_password
        assert FAST_PASSWORDS.verify(made.user.password_hash, row.initial_password or "").ok


def test_insert_checks_again_and_inserts_nothing_when_a_row_went_bad(db_session: Session) -> None:
    build_tree(db_session)
    rows = users.check_users_csv(session=db_session, data=USERS_CSV.encode())
    hashed = users.hash_import_rows(rows, passwords=FAST_PASSWORDS)
    make_user(db_session, "sunita.verma")  # taken between the check and the insert
    before = user_count(db_session)
    with pytest.raises(ImportRejected) as raised:
        users.insert_imported_users(session=db_session, rows=hashed, context=SYSTEM)
    assert [(e.row, e.text) for e in raised.value.errors] == [
        (3, "username sunita.verma already exists")
    ]
    assert user_count(db_session) == before


def test_a_password_given_in_the_file_is_kept_not_generated(db_session: Session) -> None:
    build_tree(db_session)
    data = (
        b"username,full_name,unit_code,role,password\nown.pass,Own,PS-A1,constable,ghoda-gaadi-42\n"
    )
    [row] = users.check_users_csv(session=db_session, data=data)
    [hashed] = users.hash_import_rows([row], passwords=FAST_PASSWORDS)
    assert hashed.initial_password is None
    assert FAST_PASSWORDS.verify(hashed.password_hash, "ghoda-gaadi-42").ok


def test_an_admin_cannot_disable_themselves_nor_the_last_admin(db_session: Session) -> None:
    from polaris.audit.context import AuditContext

    build_tree(db_session)
    first = make_user(db_session, "admin.first", unit="PHQ", role="admin")
    as_first = AuditContext(actor_id=first.id, actor_name="admin.first")
    with pytest.raises(Conflict) as own:
        users.disable_user(session=db_session, username="admin.first", context=as_first)
    assert own.value.code == "cannot_disable_self"
    with pytest.raises(Conflict) as last:
        users.disable_user(session=db_session, username="admin.first", context=SYSTEM)
    assert last.value.code == "last_admin"
    second = make_user(db_session, "admin.second", unit="PHQ", role="admin")
    users.disable_user(session=db_session, username="admin.second", context=as_first)
    assert second.disabled_at is not None
    # An ordinary officer may always be disabled.
    make_user(db_session, "ct.someone")
    users.disable_user(session=db_session, username="ct.someone", context=as_first)
