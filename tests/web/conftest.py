"""An app over a real instance (blob store, keys) whose database work is rolled back per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from polaris.app import create_app
from polaris.audit.keys import AuditSigner
from polaris.config import load_settings
from polaris.instance import Instance
from polaris.search.postgres_engine import PostgresSearchEngine
from polaris.storage.keys import create_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore
from tests.factories import auth_config, build_tree, make_user


@pytest.fixture
def instance(engine: Engine, tmp_path: Path) -> Iterator[Instance]:
    connection = engine.connect()
    outer = connection.begin()
    keyring = create_master_key_file(tmp_path / "master.key")
    instance = Instance(
        settings=load_settings(tmp_path, http={"max_json_bytes": 4096}),
        engine=engine,
        sessions=sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
        read_sessions=sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
        auth=auth_config(),
        csrf_key=b"c" * 32,
        audit_signer=AuditSigner.generate(),
        blobs=BlobStore.initialise(LocalBackend(tmp_path / "blobs"), keyring, chunk_size=65536),
    )
    try:
        yield instance
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def seeded(instance: Instance) -> Instance:
    session: Session = instance.sessions()
    build_tree(session)
    make_user(session, "ct.one")
    make_user(session, "admin.one", unit="PHQ", role="admin")
    session.commit()
    session.close()
    return instance


@pytest.fixture
def client(seeded: Instance) -> Iterator[TestClient]:
    with TestClient(
        create_app(seeded, seal_periodically=False, run_jobs=False), base_url="https://testserver"
    ) as client:
        yield client


@pytest.fixture(params=["tantivy", "postgresql"])
def engine_name(request: pytest.FixtureRequest, seeded: Instance, db_backend: str) -> Iterator[str]:
    """Each engine behind the app (PostgreSQL's only on a PostgreSQL database)."""
    if request.param == "postgresql":
        if db_backend != "postgresql":
            pytest.skip("PostgreSQL search needs a PostgreSQL database")
        engine = PostgresSearchEngine(seeded.engine)  # writes outside the test's transaction
        engine.clear()
        seeded.search = engine
        yield request.param
        engine.clear()
    else:
        yield request.param
