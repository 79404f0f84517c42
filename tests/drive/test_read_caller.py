"""The read routes' caller in SQLAlchemy Core (``identity.callers``, ``deps.ReadGate``): every
change to a token, a session, a user or their role holds from the next request, and a refused
caller gets the answer the full path always gave.

Nothing about the caller is cached across requests: each request reads the token or session row
and the user's in its own snapshot. These tests pin that down for the node GET, the spaces
listing, a folder page and the download (on SQLite and PostgreSQL, as the ``drive`` fixture).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.identity import program_tokens
from polaris.identity.models import ApiToken, Role, User, UserSession
from polaris.identity.tokens import digest
from tests.drive.conftest import Drive
from tests.factories import PASSWORD, SYSTEM


def _change(drive: Drive, statement: object) -> None:
    """A change committed by someone else (an administrator, another process)."""
    with unit_of_work(drive.instance.sessions) as session:
        session.execute(statement)  # type: ignore[call-overload]


def _reads(drive: Drive, node: int, folder: int) -> list[str]:
    return [
        f"/api/v1/nodes/{node}",
        "/api/v1/spaces",
        f"/api/v1/nodes/{folder}/children",
        f"/api/v1/files/{node}/content",
    ]


def _statuses(drive: Drive, who: str, paths: list[str]) -> list[int]:
    return [drive.get(who, path).status_code for path in paths]


def test_a_revoked_token_is_refused_at_the_next_read(drive: Drive) -> None:
    root = drive.root("hc.a1")
    node = drive.upload("hc.a1", root, "fir.txt", b"x")["id"]
    paths = _reads(drive, node, root)
    assert _statuses(drive, "hc.a1", paths) == [200, 200, 200, 200]
    with unit_of_work(drive.instance.sessions) as session:
        user = session.get(User, drive.user_ids["hc.a1"])
        assert user is not None
        token = program_tokens.list_tokens(session=session, user=user)[0]
        program_tokens.revoke_token(session=session, user=user, token_id=token.id, context=SYSTEM)
    for path in paths:
        response = drive.get("hc.a1", path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "invalid_token"


def test_an_expired_token_and_a_disabled_user_are_refused(drive: Drive) -> None:
    root = drive.root("hc.a1")
    node = drive.upload("hc.a1", root, "fir.txt", b"x")["id"]
    paths = _reads(drive, node, root)
    past = utcnow() - dt.timedelta(seconds=1)
    _change(
        drive,
        update(ApiToken).where(ApiToken.user_id == drive.user_ids["ct.a1"]).values(expires_at=past),
    )
    _change(drive, update(User).where(User.id == drive.user_ids["hc.a1"]).values(disabled_at=past))
    for who in ("ct.a1", "hc.a1"):
        for path in paths:
            response = drive.get(who, path)
            assert (response.status_code, response.json()["code"]) == (401, "invalid_token"), path
    _change(drive, update(User).where(User.id == drive.user_ids["hc.a1"]).values(disabled_at=None))
    assert _statuses(drive, "hc.a1", paths) == [200, 200, 200, 200]


def test_a_lower_clearance_and_a_changed_role_hold_at_the_next_read(drive: Drive) -> None:
    """The actor is made from the user's and role's rows of this request: a file above the new
    clearance is hidden (as a missing one), a role that loses ``read`` reads nothing."""
    root = drive.root("si.a1", "unit")
    response = drive.post(
        "si.a1",
        f"/api/v1/nodes/{root}/folders",
        json={"name": "C", "classification": "confidential"},
    )
    assert response.status_code == 201, response.text
    folder = response.json()["id"]
    assert drive.get("si.a1", f"/api/v1/nodes/{folder}").status_code == 200
    _change(drive, update(User).where(User.id == drive.user_ids["si.a1"]).values(clearance=1))
    hidden = drive.get("si.a1", f"/api/v1/nodes/{folder}")
    missing = drive.get("si.a1", "/api/v1/nodes/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]
    assert drive.get("si.a1", f"/api/v1/nodes/{root}").status_code == 200
    _change(
        drive,
        update(Role)
        .where(Role.code == "sub_inspector")
        .values(unit_actions=[], subtree_actions=[]),
    )
    assert drive.get("si.a1", f"/api/v1/nodes/{root}").status_code == 404
    assert all(s["kind"] == "user" for s in drive.get("si.a1", "/api/v1/spaces").json())


def _sign_in(drive: Drive, username: str) -> None:
    response = drive.client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text


def test_a_session_reads_until_it_ends_or_idles(drive: Drive) -> None:
    root = drive.root("ct.a1")
    node = drive.upload("ct.a1", root, "fir.txt", b"x")["id"]
    _sign_in(drive, "ct.a1")
    paths = _reads(drive, node, root)
    assert [drive.client.get(path).status_code for path in paths] == [200, 200, 200, 200]
    idle = utcnow() - dt.timedelta(hours=1)
    _change(drive, update(UserSession).values(last_seen_at=idle))
    response = drive.client.get(f"/api/v1/nodes/{node}")
    assert (response.status_code, response.json()["code"]) == (401, "session_expired")
    assert drive.client.get("/api/v1/spaces").status_code == 401  # and stays refused
    _sign_in(drive, "ct.a1")
    assert drive.client.get(f"/api/v1/nodes/{node}").status_code == 200
    _change(drive, update(UserSession).values(ended_at=utcnow(), end_reason="logout"))
    for path in paths:
        response = drive.client.get(path)
        assert (response.status_code, response.json()["code"]) == (401, "session_expired"), path


def _session_row(drive: Drive, token: str) -> UserSession:
    session = drive.instance.sessions()
    try:
        row = session.get(UserSession, digest(token))
        assert row is not None
        return row
    finally:
        session.close()


def test_an_idle_session_is_recorded_ended_by_the_request_it_refuses(drive: Drive) -> None:
    """The read that finds a session idle is refused as always, and the session is recorded
    ended (in a write transaction of its own after the refusal); the next request gets the same
    refusal and finds it ended."""
    root = drive.root("ct.a1")
    node = drive.upload("ct.a1", root, "fir.txt", b"x")["id"]
    _sign_in(drive, "ct.a1")
    token = drive.client.cookies["polaris_session"]
    assert drive.client.get(f"/api/v1/nodes/{node}").status_code == 200
    idle = utcnow() - dt.timedelta(hours=1)
    _change(
        drive, update(UserSession).where(UserSession.id == digest(token)).values(last_seen_at=idle)
    )
    assert _session_row(drive, token).ended_at is None
    refused = drive.client.get(f"/api/v1/nodes/{node}")
    assert refused.status_code == 401
    assert refused.json() == {
        "type": "urn:polaris:error:session_expired",
        "title": "session_expired",
        "status": 401,
        "code": "session_expired",
        "detail": "session expired after inactivity",
    }
    row = _session_row(drive, token)
    assert row.ended_at is not None and row.end_reason == "idle"
    assert row.last_seen_at == idle
    again = drive.client.get("/api/v1/spaces")
    assert (again.status_code, again.json()) == (401, refused.json())
    assert _session_row(drive, token).ended_at == row.ended_at
