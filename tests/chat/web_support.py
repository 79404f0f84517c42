"""An app over a committed database with officers signed in, for the chat API and sync tests.

The chat's sync reads the change stream from other threads (the hub sequences and reads in its
own transactions), so these tests run on a real database (``tests.support.real_app``), not
inside the rolled-back transaction of the usual fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from polaris.access.policy import Classification
from polaris.config import Settings
from polaris.db import make_engine
from polaris.identity import program_tokens
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import PASSWORD, SYSTEM, build_tree, make_user
from tests.support.real_app import client_for, migrated, real_instance

C = Classification
#: name: (unit, role, clearance)
OFFICERS = {
    "asha": ("PS-A1", "constable", C.RESTRICTED),
    "bala": ("PS-A1", "constable", C.RESTRICTED),
    "chand": ("PS-A2", "head_constable", C.RESTRICTED),
    "dev": ("PS-B1", "constable", C.RESTRICTED),
    "sp": ("DST-A", "district_head", C.SECRET),
    "root": ("PHQ", "admin", C.SECRET),
}


@dataclass
class Officer:
    name: str
    user_id: int
    client: TestClient
    csrf: str
    #: An API token, for a role whose sign-in needs a second factor (the district head)
    token: str | None = None

    def headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token}"}
        return {"X-CSRF-Token": self.csrf}

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, headers=self.headers(), **kwargs)

    def post(self, url: str, json: object = None, **kwargs: Any) -> Any:
        return self.client.post(url, json=json, headers=self.headers(), **kwargs)

    def send(self, room_id: int, body: str, **extra: object) -> dict[str, Any]:
        response = self.post(f"/api/v1/chat/rooms/{room_id}/messages", {"body": body, **extra})
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


@dataclass
class ChatSite:
    instance: Instance
    app: FastAPI
    units: dict[str, int]
    officers: dict[str, Officer] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Officer:
        return self.officers[name]


#: Roles whose sign-in needs a second factor: they call with an API token instead.
TOKEN_ROLES = {"district_head", "admin"}


def sign_in(app: FastAPI, name: str) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver")
    response = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "active", response.json()
    return client, str(response.json()["csrf_token"])


def token_for(instance: Instance, user_id: int) -> str:
    session = instance.sessions()
    user = session.get(User, user_id)
    assert user is not None
    secret = program_tokens.create_token(
        session=session, user=user, name="chat", scopes=["all"], lifetime_days=1, context=SYSTEM
    ).secret
    session.commit()
    session.close()
    return secret


def seed(instance: Instance) -> tuple[dict[str, int], dict[str, int]]:
    session = instance.sessions()
    units = build_tree(session)
    ids = {}
    for name, (unit, role, clearance) in OFFICERS.items():
        ids[name] = make_user(session, name, unit=unit, role=role, clearance=clearance).id
    session.commit()
    session.close()
    return units, ids


@contextmanager
def chat_site(
    engine: Engine, directory: Path, *, seeded: bool = True, settings: Settings | None = None
) -> Iterator[ChatSite]:
    instance = real_instance(engine, directory)
    if settings is not None:
        instance.settings = settings
    units, ids = seed(instance) if seeded else ({}, {})
    with client_for(instance) as main:
        site = ChatSite(instance, main.app, units)  # type: ignore[arg-type]
        for name, user_id in ids.items():
            if OFFICERS[name][1] in TOKEN_ROLES:
                client = TestClient(site.app, base_url="https://testserver")
                token = token_for(instance, user_id)
                site.officers[name] = Officer(name, user_id, client, "", token)
                continue
            client, csrf = sign_in(site.app, name)
            site.officers[name] = Officer(name, user_id, client, csrf)
        yield site


@contextmanager
def database(backend: str, directory: Path, schema: str) -> Iterator[str]:
    with migrated(backend, directory, schema) as url:
        yield url


def engine_for(url: str) -> Engine:
    return make_engine(url)
