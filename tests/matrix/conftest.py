"""A real ``polaris serve`` for the Matrix tests, with officers to sign in as.

``hc.a1`` and ``hc.b1`` sign in with a password; ``sho.m``'s role needs MFA, so a Matrix app
signs in only with a login token minted by a browser session that passed the second factor.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from polaris.audit.models import AuditRecord
from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.db import make_engine
from polaris.identity import mfa
from polaris.instance import open_instance
from tests.conftest import DATABASE_BACKENDS, PG_SCHEMA, pg_url, reset_postgresql
from tests.factories import PASSWORD, build_tree, make_user
from tests.live_server import Server

#: The largest media upload of the test server.
UPLOAD_LIMIT = 1024 * 1024


@pytest.fixture(scope="session", params=DATABASE_BACKENDS)
def matrix_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The server on SQLite, then on PostgreSQL (a schema of its own, search there too)."""
    data_dir = tmp_path_factory.mktemp("matrix") / "instance"
    arguments = ["init", str(data_dir)]
    env = {
        "POLARIS_MATRIX__SERVER_NAME": "polaris.test",
        "POLARIS_MATRIX__MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
    }
    schema = f"{PG_SCHEMA}_matrix"
    if request.param == "postgresql":
        engine = make_engine(pg_url(schema))
        reset_postgresql(engine, schema)
        engine.dispose()
        arguments += ["--database-url", pg_url(schema)]
        env["POLARIS_SEARCH__ENGINE"] = "postgresql"
    result = CliRunner().invoke(cli_app, arguments, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    server = Server(data_dir, env=env)
    with patched_environment(env):
        instance = open_instance(load_settings(data_dir))
    with instance.sessions() as session:
        build_tree(session)
        make_user(session, "hc.a1", unit="PS-A1", role="head_constable")
        make_user(session, "hc.b1", unit="PS-B1", role="head_constable")
        make_user(session, "hc.gone", unit="PS-B1", role="head_constable")
        make_user(session, "sho.m", unit="PS-A1", role="station_head")
        make_user(session, "sho.sso", unit="PS-A2", role="station_head")
        session.commit()
    instance.close()
    server.start()
    yield server
    server.stop()
    if request.param == "postgresql":
        engine = make_engine(pg_url(schema))
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@contextmanager
def patched_environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the settings this process reads, then as before."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def base_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}"


def call(
    server: Server,
    method: str,
    path: str,
    body: object = None,
    *,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    """One request; the JSON answer (``{}`` when there is none)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if payload is not None:
        sent.setdefault("Content-Type", "application/json")
    status, _, answer = server.request(method, path, body=payload, headers=sent)
    return status, json.loads(answer) if answer else {}


def password_login(
    server: Server, username: str, password: str = PASSWORD
) -> tuple[int, dict[str, object]]:
    return call(
        server,
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": username},
            "password": password,
        },
    )


class Browser:
    """A browser session signed in through Polaris's own sign-in (cookie and CSRF token)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cookie = ""
        self.csrf = ""

    def post(self, path: str, body: object) -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf}
        if self.cookie:
            headers["Cookie"] = f"polaris_session={self.cookie}"
        status, answer_headers, answer = self.server.request(
            "POST", path, body=json.dumps(body).encode(), headers=headers
        )
        for value in answer_headers.get_all("set-cookie") or []:
            name, _, rest = value.partition("=")
            if name == "polaris_session":
                self.cookie = rest.split(";")[0]
        found = json.loads(answer) if answer else {}
        if isinstance(found, dict) and isinstance(found.get("csrf_token"), str):
            self.csrf = found["csrf_token"]
        return status, found

    def get(self, path: str) -> tuple[int, object]:
        status, _, answer = self.server.request(
            "GET", path, headers={"Cookie": f"polaris_session={self.cookie}"}
        )
        return status, json.loads(answer)

    def page(
        self, method: str, path: str, fields: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        """A page as the browser loads it or submits its form: (status, Location, HTML)."""
        headers = {"Cookie": f"polaris_session={self.cookie}"}
        body = None
        if fields is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode({**fields, "csrf": self.csrf}).encode()
        status, answer_headers, answer = self.server.request(method, path, body, headers)
        return status, answer_headers.get("location", ""), answer.decode()

    def sign_in(self, username: str) -> None:
        status, body = self.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
        assert status == 200 and body["stage"] == "active", body

    def sign_in_with_mfa(self, username: str) -> None:
        """Password, then authenticator enrolment (the role needs MFA): a full session."""
        status, body = self.post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
        assert status == 200 and body["stage"] == "enrol", body
        status, body = self.post("/api/v1/auth/mfa/enrol", {"password": PASSWORD})
        assert status == 200, body
        code = mfa.current_code(str(body["secret"]))
        status, body = self.post("/api/v1/auth/mfa/confirm", {"code": code})
        assert status == 200 and body["stage"] == "active", body

    def mint_login_token(self) -> tuple[int, dict[str, object]]:
        return self.post("/api/v1/matrix/login-token", {})


def audit_records(server: Server, action: str) -> list[AuditRecord]:
    """The audit records of ``action`` the server wrote (read from its database)."""
    with patched_environment(server.env):
        instance = open_instance(load_settings(server.data_dir))
    try:
        with instance.sessions() as session:
            return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))
    finally:
        instance.close()
