"""Uploads that reach their write transaction together commit together
(``instance.upload_commits``, ``polaris.db.group_commit``), through the API and WebDAV's PUT
alike: each answers only once its rows are committed, and one refused at commit fails alone.
The crash side (no acknowledged upload lost to a SIGKILL) is in ``test_upload_crash.py``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from polaris.audit.models import AuditRecord
from polaris.db import make_engine
from polaris.drive.models import Node
from polaris.instance import Instance
from tests.db.holding import first_write_held, wait_until
from tests.drive.conftest import seed
from tests.support.real_app import client_for, migrated, real_instance

SCHEMA = "upload_group_commit"


@dataclass
class App:
    engine: Engine
    instance: Instance
    client: TestClient
    tokens: dict[str, str]
    folder: int

    def post(self, name: str, body: bytes) -> Callable[[], Any]:
        def send() -> Any:
            return self.client.post(
                "/api/v1/files",
                params={"parent_id": self.folder, "name": name},
                content=body,
                headers={"Authorization": f"Bearer {self.tokens['hc.a1']}"},
            )

        return send

    def live(self, name: str) -> int:
        with self.instance.sessions() as session:
            query = select(func.count()).where(
                Node.parent_id == self.folder, Node.name == name, Node.trashed_at.is_(None)
            )
            return int(session.scalar(query) or 0)

    def audited(self, action: str) -> int:
        with self.instance.sessions() as session:
            query = select(func.count()).where(AuditRecord.action == action)
            return int(session.scalar(query) or 0)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    with migrated("sqlite", tmp_path, SCHEMA) as url:
        engine = make_engine(url)
        instance = real_instance(engine, tmp_path)
        session = instance.sessions()
        tokens, _, _ = seed(session)
        session.commit()
        session.close()
        try:
            with client_for(instance) as client:
                headers = {"Authorization": f"Bearer {tokens['hc.a1']}"}
                spaces = client.get("/api/v1/spaces", headers=headers).json()
                root = next(s["root_id"] for s in spaces if s["kind"] == "user")
                folder = client.post(
                    f"/api/v1/nodes/{root}/folders", json={"name": "Batch"}, headers=headers
                ).json()["id"]
                yield App(engine, instance, client, tokens, folder)
        finally:
            engine.dispose()


def behind_a_leader(
    app: App, pool: ThreadPoolExecutor, begun: list[int], sends: list[Callable[[], Any]]
) -> list[Future[Any]]:
    """The first upload leads and is held at its BEGIN; the others then queue behind it."""
    leader = pool.submit(sends[0])
    wait_until(lambda: len(begun) == 1 or leader.done())
    assert not leader.done(), leader.result().text
    followers = [pool.submit(send) for send in sends[1:]]
    wait_until(lambda: app.instance.upload_commits.waiting() == len(followers))
    return [leader, *followers]


def test_concurrent_uploads_commit_in_one_transaction(app: App) -> None:
    sends = [app.post(f"f{n}.txt", f"body {n}".encode()) for n in range(4)]
    with first_write_held(app.engine) as (release, begun), ThreadPoolExecutor(4) as pool:
        futures = behind_a_leader(app, pool, begun, sends)
        release.set()
        answers = [future.result() for future in futures]
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len(begun) == 2  # the leader's upload, then the three that queued behind it
    assert app.instance.upload_commits.batch_sizes[-2:] == [1, 3]
    assert all(app.live(f"f{n}.txt") == 1 for n in range(4))
    assert app.audited("file.create") == 4
    ids = {answer.json()["id"] for answer in answers}
    assert len(ids) == 4
    for n, answer in enumerate(answers):
        got = app.client.get(
            f"/api/v1/files/{answer.json()['id']}/content",
            headers={"Authorization": f"Bearer {app.tokens['hc.a1']}"},
        )
        assert got.content == f"body {n}".encode()


def test_one_refused_at_commit_fails_alone(app: App) -> None:
    """Two uploads of one new name pass their checks before either is recorded; in the shared
    transaction the second finds the name taken (409) and only it fails."""
    sends = [
        app.post("lead.txt", b"lead"),
        app.post("same.txt", b"first"),
        app.post("same.txt", b"second"),
        app.post("other.txt", b"other"),
    ]
    with first_write_held(app.engine) as (release, begun), ThreadPoolExecutor(4) as pool:
        futures = behind_a_leader(app, pool, begun, sends)
        release.set()
        answers = [future.result() for future in futures]
    codes = [a.status_code for a in answers]
    assert [codes[0], codes[3]] == [201, 201], [a.text for a in answers]
    assert sorted(codes[1:3]) == [201, 409]  # whichever of the two the leader ran first lands
    winner, loser = (1, 2) if codes[1] == 201 else (2, 1)
    assert answers[loser].json()["code"] == "name_taken"
    assert len(begun) == 3  # the leader; the three together, rolled back; then in savepoints
    assert [app.live(n) for n in ("lead.txt", "same.txt", "other.txt")] == [1, 1, 1]
    assert app.audited("file.create") == 3
    headers = {"Authorization": f"Bearer {app.tokens['hc.a1']}"}
    got = app.client.get(f"/api/v1/files/{answers[winner].json()['id']}/content", headers=headers)
    assert got.content == (b"first" if winner == 1 else b"second")


def test_webdav_puts_commit_together(app: App, tmp_path: Path) -> None:
    """WebDAV's PUT takes the same path: with an app password, PUTs that arrive together share
    the transaction."""
    from polaris.identity import app_passwords
    from polaris.identity.models import User
    from tests.factories import SYSTEM

    with app.instance.sessions() as session, session.begin():
        user = session.scalars(select(User).where(User.username == "hc.a1")).one()
        secret = app_passwords.create(
            session=session, user=user, name="pc", scope="write", context=SYSTEM
        ).secret
    basic = base64.b64encode(f"hc.a1:{secret}".encode()).decode()

    def put(name: str) -> Callable[[], Any]:
        def send() -> Any:
            return app.client.request(
                "PUT",
                f"/dav/hc.a1/Batch/{name}",
                content=name.encode(),
                headers={"Authorization": f"Basic {basic}"},
            )

        return send

    first = put("warm.txt")()  # an app password's first use is recorded (a write of its own)
    assert first.status_code == 201, first.text
    sends = [put(f"d{n}.txt") for n in range(3)]
    with first_write_held(app.engine) as (release, begun), ThreadPoolExecutor(3) as pool:
        futures = behind_a_leader(app, pool, begun, sends)
        release.set()
        answers = [future.result() for future in futures]
    assert [a.status_code for a in answers] == [201] * 3, [a.text for a in answers]
    assert app.instance.upload_commits.batch_sizes[-2:] == [1, 2]
    assert all(app.live(f"d{n}.txt") == 1 for n in range(3))
