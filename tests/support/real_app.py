"""An app over a real engine: committed work, the transactions production sends.

The usual drive fixtures run every test inside one outer transaction that is rolled back, so no
``BEGIN`` of the app's own reaches the database. Tests of what a request costs
(``tests/drive/test_statements.py``) and of what other processes see (``tests/identity/
test_fact_cache.py``) need the real thing: a database of their own (a file, or a PostgreSQL schema
of their own), sessions as ``polaris serve`` makes them, and the app on top.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from polaris.app import create_app
from polaris.audit.keys import AuditSigner
from polaris.config import load_settings
from polaris.db import make_engine
from polaris.db.engine import make_read_session_factory, make_session_factory
from polaris.db.migrate import upgrade
from polaris.incident.service import CachedState
from polaris.instance import Instance
from polaris.storage.keys import create_master_key_file, load_master_key_file
from polaris.storage.local import LocalBackend
from polaris.storage.store import BlobStore
from tests.conftest import pg_url, reset_postgresql
from tests.factories import auth_config

CHUNK = 64 * 1024


def database_url(backend: str, directory: Path, schema: str) -> str:
    """A new database: a file in ``directory``, or the PostgreSQL ``schema`` (emptied)."""
    if backend == "sqlite":
        return f"sqlite:///{directory / 'real.db'}"
    engine = make_engine(pg_url(schema))
    reset_postgresql(engine, schema)
    engine.dispose()
    return pg_url(schema)


@contextmanager
def migrated(backend: str, directory: Path, schema: str) -> Iterator[str]:
    """The URL of a new, migrated database, dropped at the end (PostgreSQL)."""
    url = database_url(backend, directory, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if backend == "postgresql":
            engine = make_engine(url)
            with engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            engine.dispose()


def real_instance(engine: Engine, directory: Path) -> Instance:
    """An instance on ``engine`` with sessions as production makes them; blobs in ``directory``
    (created once: a second instance on the same directory shares the store and its keys)."""
    key = directory / "master.key"
    backend = LocalBackend(directory / "blobs")
    if key.exists():
        blobs = BlobStore.open(backend, load_master_key_file(key), chunk_size=CHUNK)
    else:
        blobs = BlobStore.initialise(backend, create_master_key_file(key), chunk_size=CHUNK)
    return Instance(
        settings=load_settings(directory),
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_read_session_factory(engine),
        auth=auth_config(),
        csrf_key=b"c" * 32,
        audit_signer=AuditSigner.generate(),
        blobs=blobs,
    )


@contextmanager
def client_for(instance: Instance) -> Iterator[TestClient]:
    """The app of ``instance`` without job threads or the sealer. The incident switch is read
    once and kept, so that no count depends on when a request ran (it is read every 2 s)."""
    app = create_app(instance, seal_periodically=False, run_jobs=False)
    state = CachedState(instance.read_sessions, ttl=math.inf)
    state.get()
    app.state.read_only = state
    with TestClient(app, base_url="https://testserver") as client:
        yield client
