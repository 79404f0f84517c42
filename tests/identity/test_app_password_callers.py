"""An app password's caller read as plain rows (``app_passwords.resolve_plain``, WebDAV's hot
path): the same actor as the full way for a plainly valid password, and None, for the full way
to refuse and audit, for everything else: wrong secret, another user's name, revoked, a disabled
user, a throttled account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.identity import app_passwords, throttle
from polaris.identity.actors import RequestInfo, actor_for
from polaris.identity.models import User
from tests.drive.conftest import seed
from tests.factories import SYSTEM, auth_config

INFO = RequestInfo(source_address="10.1.2.3", client="test")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    made = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        seed(made)
        made.flush()
        yield made
    finally:
        made.close()
        outer.rollback()
        connection.close()


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _issue(session: Session, username: str, scope: str = "write") -> tuple[int, str]:
    issued = app_passwords.create(
        session=session, user=_user(session, username), name="pc", scope=scope, context=SYSTEM
    )
    session.flush()
    return issued.row.id, issued.secret


def _plain(session: Session, username: str, secret: str) -> app_passwords.DeviceCaller | None:
    return app_passwords.resolve_plain(
        session=session, username=username, secret=secret, request=INFO
    )


def test_a_valid_password_gives_the_actor_the_full_way_gives(session: Session) -> None:
    password_id, secret = _issue(session, "hc.a1", scope="read")
    plain = _plain(session, "HC.A1", secret)  # names are matched as the full way matches them
    assert plain is not None
    found = app_passwords.resolve(
        session=session, config=auth_config(), username="hc.a1", secret=secret, request=INFO
    )
    full = actor_for(
        session=session,
        user=found.user,
        auth_factors="app_password",
        token_scopes=frozenset({found.row.scope}),
        stamp=found.stamp,
    )
    assert plain.actor == full
    assert plain.actor.token_scopes == frozenset({"read"})
    assert (plain.password_id, plain.username) == (password_id, "hc.a1")
    assert plain.touch_due is found.touch_due is True  # never used yet
    assert plain.failures_to_clear is found.failures_to_clear is False


def test_anything_but_a_plainly_valid_password_is_left_to_the_full_way(session: Session) -> None:
    password_id, secret = _issue(session, "hc.a1")
    assert _plain(session, "hc.a1", secret + "x") is None
    assert _plain(session, "hc.a2", secret) is None  # another user's password
    _, other = _issue(session, "hc.a2")
    user = _user(session, "hc.a2")
    user.disabled_at = utcnow()
    session.flush()
    assert _plain(session, "hc.a2", other) is None
    app_passwords.revoke(
        session=session, user=_user(session, "hc.a1"), password_id=password_id, context=SYSTEM
    )
    session.flush()
    assert _plain(session, "hc.a1", secret) is None


def test_a_throttled_account_is_left_to_the_full_way(session: Session) -> None:
    _, secret = _issue(session, "si.a1")
    keys = app_passwords.throttle_keys("si.a1", INFO.source_address)
    config = auth_config()
    for _ in range(50):
        throttle.record_failure(session=session, keys=keys, now=utcnow(), policy=config.throttle)
    session.flush()
    assert _plain(session, "si.a1", secret) is None
