"""Drive tests: an app over a real instance, and callers with API tokens across the unit tree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from polaris.access.policy import Classification
from polaris.app import create_app
from polaris.audit.keys import AuditSigner
from polaris.config import load_settings
from polaris.drive.models import Space
from polaris.identity import program_tokens
from polaris.instance import Instance
from polaris.storage.backend import Backend
from polaris.storage.keys import create_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore
from tests.factories import SYSTEM, auth_config, build_tree, make_user

CHUNK = 64 * 1024

# username, unit, role, clearance
PEOPLE = [
    ("hc.a1", "PS-A1", "head_constable", Classification.RESTRICTED),
    ("ct.a1", "PS-A1", "constable", Classification.UNCLASSIFIED),
    ("si.a1", "PS-A1", "sub_inspector", Classification.CONFIDENTIAL),
    ("sho.a1", "PS-A1", "station_head", Classification.SECRET),
    ("hc.a2", "PS-A2", "head_constable", Classification.RESTRICTED),
    ("sdop.a", "SDV-A", "subdivision_head", Classification.SECRET),
    ("hc.b1", "PS-B1", "head_constable", Classification.RESTRICTED),
    ("admin", "PHQ", "admin", Classification.SECRET),
]


def make_instance(
    connection_or_engine: object, tmp_path: Path, backend: Backend | None = None, **settings: object
) -> Instance:
    """An instance on the connection; its blobs under tmp_path, or in ``backend`` (S3)."""
    keyring = create_master_key_file(tmp_path / "master.key")
    backend = backend or LocalBackend(tmp_path / "blobs")
    bind = connection_or_engine
    return Instance(
        settings=load_settings(tmp_path, **settings),
        engine=bind if isinstance(bind, Engine) else bind.engine,  # type: ignore[attr-defined]
        sessions=sessionmaker(
            bind=bind,  # type: ignore[arg-type]
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        ),
        read_sessions=sessionmaker(bind=bind, expire_on_commit=False),  # type: ignore[arg-type]
        auth=auth_config(),
        csrf_key=b"c" * 32,
        audit_signer=AuditSigner.generate(),
        blobs=BlobStore.initialise(backend, keyring, chunk_size=CHUNK),
    )


@dataclass
class Drive:
    """A test client plus a bearer token per person."""

    client: TestClient
    instance: Instance
    tokens: dict[str, str]
    user_ids: dict[str, int]
    unit_ids: dict[str, int]

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def get(self, who: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        return self.client.get(url, headers=self.headers(who), **kwargs)  # type: ignore[arg-type]

    def post(self, who: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = self.headers(who, **kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.post(url, headers=headers, **kwargs)  # type: ignore[arg-type]

    def patch(self, who: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = self.headers(who, **kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.patch(url, headers=headers, **kwargs)  # type: ignore[arg-type]

    def put(self, who: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = self.headers(who, **kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.put(url, headers=headers, **kwargs)  # type: ignore[arg-type]

    def delete(self, who: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = self.headers(who, **kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.delete(url, headers=headers, **kwargs)  # type: ignore[arg-type]

    def space(self, who: str, kind: str = "user") -> dict[str, object]:
        response = self.get(who, "/api/v1/spaces")
        assert response.status_code == 200, response.text
        mine = [s for s in response.json() if s["kind"] == kind]
        return mine[0]  # type: ignore[no-any-return]

    def used_bytes(self, who: str, kind: str = "user") -> int:
        """The space's usage as stored (the API shows it only to those who see all the space)."""
        session = self.instance.sessions()
        try:
            found = session.get(Space, self.space(who, kind)["id"])
            assert found is not None
            return found.used_bytes
        finally:
            session.close()

    def root(self, who: str, kind: str = "user") -> int:
        return int(self.space(who, kind)["root_id"])  # type: ignore[call-overload]

    def upload(self, who: str, parent: int, name: str, data: bytes, **params: object) -> dict:  # type: ignore[type-arg]
        response = self.post(
            who, "/api/v1/files", params={"parent_id": parent, "name": name, **params}, content=data
        )
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    def folder(self, who: str, parent: int, name: str) -> dict:  # type: ignore[type-arg]
        response = self.post(who, f"/api/v1/nodes/{parent}/folders", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


def seed(session: Session) -> tuple[dict[str, str], dict[str, int], dict[str, int]]:
    unit_ids = build_tree(session)
    tokens, user_ids = {}, {}
    for username, unit, role, clearance in PEOPLE:
        user = make_user(session, username, unit=unit, role=role, clearance=clearance)
        issued = program_tokens.create_token(
            session=session, user=user, name="test", scopes=["all"], lifetime_days=1, context=SYSTEM
        )
        tokens[username] = issued.secret
        user_ids[username] = user.id
    return tokens, user_ids, unit_ids


@pytest.fixture
def drive(engine: Engine, tmp_path: Path) -> Iterator[Drive]:
    yield from drive_on(engine, tmp_path)


def drive_on(engine: Engine, tmp_path: Path, backend: Backend | None = None) -> Iterator[Drive]:
    """The ``drive`` fixture's body, its blobs in ``backend`` when given."""
    connection = engine.connect()
    outer = connection.begin()
    instance = make_instance(connection, tmp_path, backend)
    session = instance.sessions()
    tokens, user_ids, unit_ids = seed(session)
    session.commit()
    session.close()
    try:
        with TestClient(
            create_app(instance, seal_periodically=False, run_jobs=False),
            base_url="https://testserver",
        ) as client:
            yield Drive(client, instance, tokens, user_ids, unit_ids)
    finally:
        outer.rollback()
        connection.close()
