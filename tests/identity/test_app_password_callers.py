"""An app password's caller read as plain rows (``app_passwords.resolve``, WebDAV's hot path):
the same actor as ``actor_for`` makes from the user's ORM row for a valid password, and a
refusal for everything else: wrong secret, another user's name, revoked, a disabled user, a
throttled account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.errors import NotAuthenticated, Throttled
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


def _resolve(session: Session, username: str, secret: str) -> app_passwords.DeviceCaller:
    return app_passwords.resolve(
        session=session, config=auth_config(), username=username, secret=secret, request=INFO
    )


def test_a_valid_password_gives_the_actor_of_the_users_row(session: Session) -> None:
    password_id, secret = _issue(session, "hc.a1", scope="read")
    device = _resolve(session, "HC.A1", secret)  # names are matched normalised
    full = actor_for(
        session=session,
        user=_user(session, "hc.a1"),
        auth_factors="app_password",
        token_scopes=frozenset({"read"}),
    )
    assert device.actor == full
    assert device.actor.token_scopes == frozenset({"read"})
    assert (device.password_id, device.username) == (password_id, "hc.a1")
    assert device.touch_due is True  # never used yet
    assert device.failures_to_clear is False


def test_anything_but_a_valid_password_is_refused(session: Session) -> None:
    password_id, secret = _issue(session, "hc.a1")
    with pytest.raises(NotAuthenticated):
        _resolve(session, "hc.a1", secret + "x")
    with pytest.raises(NotAuthenticated):
        _resolve(session, "hc.a2", secret)  # another user's password
    _, other = _issue(session, "hc.a2")
    user = _user(session, "hc.a2")
    user.disabled_at = utcnow()
    session.flush()
    with pytest.raises(NotAuthenticated):
        _resolve(session, "hc.a2", other)
    app_passwords.revoke(
        session=session, user=_user(session, "hc.a1"), password_id=password_id, context=SYSTEM
    )
    session.flush()
    with pytest.raises(NotAuthenticated):
        _resolve(session, "hc.a1", secret)


def test_a_throttled_account_is_refused(session: Session) -> None:
    _, secret = _issue(session, "si.a1")
    keys = app_passwords.throttle_keys("si.a1", INFO.source_address)
    config = auth_config()
    for _ in range(50):
        throttle.record_failure(session=session, keys=keys, now=utcnow(), policy=config.throttle)
    session.flush()
    with pytest.raises(Throttled):
        _resolve(session, "si.a1", secret)
