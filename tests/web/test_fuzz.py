"""Schemathesis over the whole OpenAPI: no input, however odd, makes the server answer 5xx.

Every operation of ``/api/openapi.json`` is called with generated requests (the schema's own
examples, its boundary values such as the id one past the largest, and random fuzzing) by an
administrator and by a constable, each with an API token of scope ``all``, against a real instance
on SQLite in the same process. The seed is fixed so CI is repeatable; a failure prints the request
to replay it. About a minute of CPU on one core; marked slow.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from sqlalchemy.orm import sessionmaker

from polaris.app import create_app
from polaris.audit.keys import AuditSigner
from polaris.config import load_settings
from polaris.db import make_engine
from polaris.db.migrate import upgrade
from polaris.identity import program_tokens
from polaris.identity.models import User
from polaris.instance import Instance
from polaris.storage.keys import create_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore
from tests.factories import SYSTEM, auth_config, build_tree, make_user

pytestmark = pytest.mark.slow

#: Generated requests per operation in the random phase (the boundary phase adds its own).
EXAMPLES_PER_OPERATION = 12
SEED = 20261206
BASE_URL = "https://testserver"
MEMORY_DIR = "/dev/shm"
#: Tokens made before the fuzzing ones, so a generated ``DELETE /tokens/{id}`` with a small id
#: (the boundary phase tries 1, 2, ...) revokes one of these rather than the caller's own.
DECOY_TOKENS = 8


def _instance(directory: Path, *, migrate: bool = True) -> Instance:
    engine = make_engine(f"sqlite:///{directory / 'fuzz.db'}")
    if migrate:
        upgrade(engine)
    keyring = create_master_key_file(directory / "master.key")
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    return Instance(
        settings=load_settings(directory, http={"max_json_bytes": 4096}),
        engine=engine,
        sessions=sessions,
        read_sessions=sessions,
        auth=auth_config(),
        csrf_key=b"c" * 32,
        audit_signer=AuditSigner.generate(),
        blobs=BlobStore.initialise(LocalBackend(directory / "blobs"), keyring, chunk_size=65536),
    )


def _token(instance: Instance, username: str) -> str:
    with instance.sessions() as session, session.begin():
        user = session.query(User).filter_by(username=username).one()
        issued = program_tokens.create_token(
            session=session,
            user=user,
            name="fuzz",
            scopes=["all"],
            lifetime_days=1,
            context=SYSTEM,
        )
        return issued.secret


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """The app over a seeded instance, and a token for each of ``admin`` and ``constable``.

    The instance lives in memory-backed ``/dev/shm`` where there is one: every audited request
    commits, and thousands of fsyncs on a shared CI disk would be most of the run's time.
    """
    with tempfile.TemporaryDirectory(dir=MEMORY_DIR if os.path.isdir(MEMORY_DIR) else None) as d:
        yield from _serve(Path(d))


def _serve(directory: Path) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    instance = _instance(directory)
    with instance.sessions() as session, session.begin():
        build_tree(session)
        make_user(session, "ct.one")
        make_user(session, "ct.two", unit="PS-B1")
        make_user(session, "admin.one", unit="PHQ", role="admin")
    for _ in range(DECOY_TOKENS):
        _token(instance, "ct.two")
    tokens = {"admin": _token(instance, "admin.one"), "constable": _token(instance, "ct.one")}
    app = create_app(instance, seal_periodically=False, run_jobs=False)
    with TestClient(app, base_url=BASE_URL) as client:
        _seed_content(client, tokens["constable"])
        yield app, tokens
    instance.engine.dispose()


def _seed_content(client: TestClient, token: str) -> None:
    """A folder, a file with two versions and a share, so small generated ids find objects."""
    headers = {"Authorization": f"Bearer {token}"}
    spaces = client.get("/api/v1/spaces", headers=headers).json()
    root = spaces[0]["root_id"]
    folder = client.post(
        f"/api/v1/nodes/{root}/folders", json={"name": "Cases"}, headers=headers
    ).json()
    for body in (b"first", b"second"):
        client.post(
            "/api/v1/files",
            params={"parent_id": folder["id"], "name": "fir.txt", "overwrite": "true"},
            content=body,
            headers=headers,
        )
    client.post(
        f"/api/v1/nodes/{folder['id']}/shares",
        json={"subject_type": "unit", "subject_id": 1},
        headers=headers,
    )


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document, read at collection from an app over a throwaway instance.

    Schemathesis makes one test per operation at collection time, before fixtures exist; the
    document depends only on the routes, not on the instance behind them. (Its loader from a
    fixture, ``schemathesis.pytest.from_fixture``, fails on pytest 9: it sets ``Node._nodeid``.)
    """
    with tempfile.TemporaryDirectory() as directory:
        instance = _instance(Path(directory), migrate=False)
        try:
            return create_app(instance, seal_periodically=False, run_jobs=False).openapi()
        finally:
            instance.engine.dispose()


schema = schemathesis.openapi.from_dict(_openapi_document(), config=SchemathesisConfig(seed=SEED))


@pytest.fixture(scope="module", params=["admin", "constable"])
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_makes_a_server_error(
    case: schemathesis.Case, role: str, fuzzed: tuple[FastAPI, dict[str, str]]
) -> None:
    app, tokens = fuzzed
    query = dict(case.query or {})
    if case.path.endswith("/chat/sync") and str(query.get("timeout", "0")).isdigit():
        # A long-poll waits its whole timeout (30 s unless given) for a change that never
        # comes here; the client gives up after 10 s. A wait is asked for none; an invalid
        # timeout and every other parameter stay as generated.
        case.query = {**query, "timeout": 0}
    case.call_and_validate(
        app=app,
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {tokens[role]}"},
        checks=[not_a_server_error],
    )
