"""The app in this process over a database of its own (``tests.support.real_app``), for the tests
that compare or count what a PROPFIND does: the drive tests' people (``tests.drive.conftest.seed``),
``hc.a1`` with a ``write`` app password and a folder in their own space, and a client.

Unlike the live server of ``tests/dav/conftest.py``, the engine is at hand (to count statements)
and ``dav.fast_propfind`` can be switched off between two requests."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from polaris.db import make_engine
from polaris.db.uow import transaction
from polaris.drive import service
from polaris.identity import app_passwords
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.instance import Instance
from tests.dav.conftest import space_root
from tests.drive.conftest import seed
from tests.factories import SYSTEM
from tests.support.real_app import client_for, migrated, real_instance

USER = "hc.a1"


@dataclass
class InProcess:
    engine: Engine
    instance: Instance
    client: TestClient
    auth: str  # ``hc.a1``'s Basic ``Authorization``
    folder_id: int

    def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> httpx.Response:
        """``method`` on ``path`` (quoted already) as ``hc.a1``."""
        return self.client.request(
            method, path, content=body, headers={"Authorization": self.auth, **headers}
        )


@contextmanager
def in_process(backend: str, directory: Path, schema: str, folder: str) -> Iterator[InProcess]:
    """The app on ``backend`` (``"sqlite"`` or ``"postgresql"``, in ``schema``), its blobs and
    database file in ``directory``, with ``folder`` made at the top of ``hc.a1``'s space."""
    with migrated(backend, directory, schema) as url:
        engine = make_engine(url)
        instance = real_instance(engine, directory)
        session = instance.sessions()
        try:
            with transaction(session):
                seed(session)
                user = session.scalars(select(User).where(User.username == USER)).one()
                secret = app_passwords.create(
                    session=session, user=user, name="pc", scope="write", context=SYSTEM
                ).secret
                actor = actor_for(session=session, user=user, auth_factors="password")
                folder_id = service.create_folder(
                    session=session,
                    actor=actor,
                    context=SYSTEM,
                    parent_id=space_root(instance, session, actor),
                    name=folder,
                ).node.id
        finally:
            session.close()
        auth = "Basic " + base64.b64encode(f"{USER}:{secret}".encode()).decode()
        try:
            with client_for(instance) as client:
                yield InProcess(engine, instance, client, auth, folder_id)
        finally:
            engine.dispose()
