"""A real ``polaris serve`` with WebDAV on, and the people and files the WebDAV tests need.

- ``hc.a1``: head constable of PS-A1 (clearance Restricted), app passwords ``write`` and ``read``;
- ``c.a1``: constable of PS-A1, who may only read the unit's space (a ``write`` app password);
- ``hc.a2``: head constable of PS-A2, another station, with a file in PS-A2's space;
- ``sho.a1``: the SHO of PS-A1 (a role that needs MFA; clearance Secret), with a ``write`` app
  password, who also stored a Confidential file in PS-A1's space that ``hc.a1`` may not see.

The server answers over plain HTTP (``dav.allow_plain_http``): the tests talk to 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from polaris.access.policy import Actor, Classification
from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.db.uow import transaction
from polaris.drive import classifying, content, spaces
from polaris.identity import app_passwords
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.instance import Instance, open_instance
from tests.conftest import PG_SCHEMA, pg_url, reset_postgresql
from tests.factories import PASSWORD, SYSTEM, build_tree, make_user
from tests.live_server import Server

UNIT_A1 = "Unit PS-A1"
UNIT_A2 = "Unit PS-A2"
HIDDEN_NAME = "confidential-note.txt"
OTHER_STATION_FILE = "a2-report.txt"


@dataclass
class Dav:
    """The server, its data directory and the app passwords, with a small WebDAV client."""

    server: Server
    data_dir: Path
    secrets: dict[str, str]

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str = "hc.a1",
        secret: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        password = secret if secret is not None else self.secrets[user]
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        sent = {"Authorization": f"Basic {token}", **(headers or {})}
        return self.server.request(method, quote(path), body=body, headers=sent)

    def propfind(self, path: str, *, depth: str = "1", user: str = "hc.a1") -> tuple[int, str]:
        status, _, body = self.request("PROPFIND", path, user=user, headers={"Depth": depth})
        return status, body.decode("utf-8")

    def open_instance(self) -> Instance:
        return open_instance(load_settings(self.data_dir))

    def sign_in(self, username: str) -> tuple[str, str]:
        """``username`` signed in through the API as a browser is: the ``Cookie`` header of
        their session and its CSRF token."""
        status, headers, body = self.server.request(
            "POST",
            "/api/v1/auth/login",
            body=json.dumps({"username": username, "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 200, body
        cookie = "; ".join(value.split(";", 1)[0] for value in headers.get_all("set-cookie") or [])
        return cookie, json.loads(body)["csrf_token"]


def space_root(instance: Instance, session: Session, actor: Actor, kind: str = "user") -> int:
    """The root folder of the actor's own space (``kind="user"``) or of their unit's."""
    found = spaces.visible_spaces(
        session=session, actor=actor, defaults=spaces.space_defaults(instance.settings)
    )
    space = next(space for space in found if space.kind == kind)
    assert space.root_id is not None
    return space.root_id


@contextmanager
def acting(instance: Instance, username: str) -> Iterator[tuple[Session, Actor]]:
    """A session of ``instance`` in a transaction (committed at the end), and the actor of
    ``username`` signed in with a password."""
    session = instance.sessions()
    try:
        with transaction(session):
            user = session.scalars(select(User).where(User.username == username)).one()
            yield session, actor_for(session=session, user=user, auth_factors="password")
    finally:
        session.close()


def upload(
    instance: Instance, session: Session, actor: Actor, parent_id: int, name: str, data: bytes
) -> int:
    """A new file ``name`` in the folder ``parent_id``, stored as ``actor``; its node's id."""
    located, _, _ = content.commit_upload(
        session=session,
        actor=actor,
        context=SYSTEM,
        blobs=instance.blobs,
        content=data,
        parent_id=parent_id,
        name=name,
    )
    return located.node.id


def _store(instance: Instance, session: Session, user: User, name: str) -> int:
    """A file of ``user`` in their unit's space."""
    actor = actor_for(session=session, user=user, auth_factors="password")
    root = space_root(instance, session, actor, "unit")
    return upload(instance, session, actor, root, name, f"contents of {name}".encode())


def build(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """An instance with the people and files above; their app passwords by user."""
    init = ["init", str(data_dir)] + (
        [] if database_url is None else ["--database-url", database_url]
    )
    result = CliRunner().invoke(cli_app, init, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    secrets: dict[str, str] = {}
    with transaction(session):
        build_tree(session)
        hc = make_user(session, "hc.a1", unit="PS-A1", role="head_constable")
        other = make_user(session, "hc.a2", unit="PS-A2", role="head_constable")
        constable = make_user(session, "c.a1", unit="PS-A1", role="constable")
        secrets["c.a1"] = app_passwords.create(
            session=session, user=constable, name="pc", scope="write", context=SYSTEM
        ).secret
        sho = make_user(
            session, "sho.a1", unit="PS-A1", role="station_head", clearance=Classification.SECRET
        )
        for user, name, scope in ((hc, "hc.a1", "write"), (other, "hc.a2", "write")):
            secrets[name] = app_passwords.create(
                session=session, user=user, name="laptop", scope=scope, context=SYSTEM
            ).secret
        secrets["hc.a1:read"] = app_passwords.create(
            session=session, user=hc, name="phone", scope="read", context=SYSTEM
        ).secret
        secrets["sho.a1"] = app_passwords.create(
            session=session, user=sho, name="desk", scope="write", context=SYSTEM
        ).secret
        secrets["sho.a1:password"] = PASSWORD
        _store(instance, session, other, OTHER_STATION_FILE)
        hidden = _store(instance, session, sho, HIDDEN_NAME)
        classifying.set_classification(
            session=session,
            actor=actor_for(session=session, user=sho, auth_factors="password"),
            context=SYSTEM,
            node_id=hidden,
            classification=Classification.CONFIDENTIAL,
        )
    session.close()
    instance.close()
    return secrets


@contextmanager
def serving(
    data_dir: Path,
    database_url: str | None = None,
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Dav]:
    secrets = build(data_dir, database_url)
    server = Server(
        data_dir, workers=workers, env={"POLARIS_DAV__ALLOW_PLAIN_HTTP": "true", **(env or {})}
    )
    server.start()
    try:
        yield Dav(server=server, data_dir=data_dir, secrets=secrets)
    finally:
        server.stop()


@contextmanager
def serving_on(
    database: str, data_dir: Path, name: str, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[Dav]:
    """:func:`serving` on SQLite, or on PostgreSQL in a schema of its own (``name``)."""
    if database == "sqlite":
        with serving(data_dir, env=env, workers=workers) as running:
            yield running
        return
    schema = f"{PG_SCHEMA}_{name}"
    engine = create_engine(pg_url(schema))
    try:
        reset_postgresql(engine, schema)
        with serving(data_dir, pg_url(schema), env, workers) as running:
            yield running
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dav]:
    with serving(tmp_path_factory.mktemp("dav") / "instance") as running:
        yield running
