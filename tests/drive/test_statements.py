"""What the small requests cost the database, pinned: statements and write transactions.

Each test sends one request through the app (over a real engine, no outer test transaction, so
that every ``BEGIN`` is the one production sends) and asserts the number of SQL statements and of
write transactions (on SQLite ``BEGIN IMMEDIATE``, which takes the database's one writer lock) is
at most what it is today. A change that adds a query per request, or a write transaction to a
read, fails here; lower a bound when the cost goes down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from polaris.clock import utcnow
from polaris.db import make_engine
from polaris.deps import SESSION_COOKIE
from polaris.identity.models import ApiToken, UserSession
from polaris.identity.tokens import digest
from tests.conftest import PG_SCHEMA
from tests.drive.conftest import seed
from tests.factories import PASSWORD
from tests.support.real_app import client_for, migrated, real_instance
from tests.support.statements import Tally, counting

COUNTS_SCHEMA = PG_SCHEMA + "_counts"
SMALL = b"x" * 16 * 1024


@dataclass(frozen=True)
class Budget:
    statements: int
    write_transactions: int
    #: Statements inside the write transactions: how long the writer lock is held.
    in_writes: int = 0


#: The most each request may cost, on both databases: (statements, write transactions,
#: statements inside them).
#: ``BEGIN`` is not counted (PostgreSQL sends none through a cursor). Before issue 12 (main at
#: aefa21e): get node 8 / 2, spaces 7 / 2, folder page 10 / 2, upload 21 / 2, download 11 / 2.
#: The caller is 1 statement (token or session, user, role, unit and identity stamp), reach and
#: groups come from the per-process cache (``identity.facts``), ``locate`` is 2 (the node with
#: its space; the path with its shares). Since the small-file work (issue 12, i12-small) an upload
#: is checked in a read-only snapshot before its bytes are stored, outside any transaction, and
#: recorded in a write transaction of 14 statements (was 15 of 16); a download is authorised in
#: the caller's snapshot and writes only its ``file.read`` record (was: all 5 of its statements
#: in a write transaction).
_BUDGET = {
    "get_node": Budget(3, 0),
    "get_node_cookie": Budget(3, 0),
    "spaces": Budget(2, 0),
    "children": Budget(5, 0),
    "upload": Budget(18, 1, 14),
    "download": Budget(6, 1, 1),
}
BUDGETS: dict[str, dict[str, Budget]] = {"sqlite": _BUDGET, "postgresql": _BUDGET}


@dataclass
class Counted:
    """An app over a real engine, seeded once; ``measure`` tallies one request."""

    backend: str
    engine: Engine
    client: TestClient
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def measure(self, method: str, url: str, who: str = "hc.a1", **kwargs: object) -> Tally:
        return self.measure_with(self.headers(who), method, url, **kwargs)

    def measure_with(
        self, headers: dict[str, str], method: str, url: str, **kwargs: object
    ) -> Tally:
        with counting(self.engine) as tally:
            response = self.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert response.status_code in (200, 201), response.text
        return tally

    def check(self, name: str, tally: Tally) -> None:
        budget = BUDGETS[self.backend][name]
        print(f"{self.backend} {name}: {tally.describe()}")
        assert tally.count <= budget.statements, tally.describe()
        assert tally.write_transactions <= budget.write_transactions, tally.describe()
        assert tally.write_statements <= budget.in_writes, tally.describe()
        assert not tally.writes_in_reads, tally.describe()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def counted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Counted]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"counts-{backend}")
    with migrated(backend, directory, COUNTS_SCHEMA) as url:
        engine = make_engine(url)
        instance = real_instance(engine, directory)
        session = instance.sessions()
        tokens, _, _ = seed(session)
        session.commit()
        session.close()
        try:
            with client_for(instance) as client:
                yield Counted(backend, engine, client, tokens)
        finally:
            engine.dispose()


@dataclass(frozen=True)
class Tree:
    root: int
    folder: int
    file: int


@pytest.fixture(scope="module")
def tree(counted: Counted) -> Tree:
    spaces = counted.client.get("/api/v1/spaces", headers=counted.headers("hc.a1")).json()
    root = next(s["root_id"] for s in spaces if s["kind"] == "user")
    folder = counted.client.post(
        f"/api/v1/nodes/{root}/folders", json={"name": "Cases"}, headers=counted.headers("hc.a1")
    ).json()["id"]
    for number in range(30):
        counted.client.post(
            "/api/v1/files",
            params={"parent_id": folder, "name": f"f{number:03}.txt"},
            content=SMALL,
            headers=counted.headers("hc.a1"),
        )
    listed = counted.client.get(
        f"/api/v1/nodes/{folder}/children", headers=counted.headers("hc.a1")
    ).json()
    return Tree(root=root, folder=folder, file=listed["items"][0]["id"])


def test_get_node(counted: Counted, tree: Tree) -> None:
    counted.measure("GET", f"/api/v1/nodes/{tree.file}")  # warm
    counted.check("get_node", counted.measure("GET", f"/api/v1/nodes/{tree.file}"))


def test_get_node_signed_in(counted: Counted, tree: Tree) -> None:
    """The browser's way in: the session cookie (its last-seen time is touched at most once a
    minute, by the first request here)."""
    signed_in = counted.client.post(
        "/api/v1/auth/login", json={"username": "hc.a1", "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = {"Cookie": f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"}
    counted.client.cookies.clear()
    counted.measure_with(cookie, "GET", f"/api/v1/nodes/{tree.file}")
    counted.check(
        "get_node_cookie", counted.measure_with(cookie, "GET", f"/api/v1/nodes/{tree.file}")
    )


def test_list_spaces(counted: Counted, tree: Tree) -> None:
    counted.check("spaces", counted.measure("GET", "/api/v1/spaces"))


def test_list_children_page(counted: Counted, tree: Tree) -> None:
    tally = counted.measure("GET", f"/api/v1/nodes/{tree.folder}/children", params={"limit": 20})
    counted.check("children", tally)


def test_small_upload(counted: Counted, tree: Tree) -> None:
    tally = counted.measure(
        "POST", "/api/v1/files", params={"parent_id": tree.folder, "name": "new.txt"}, content=SMALL
    )
    counted.check("upload", tally)


def test_small_download(counted: Counted, tree: Tree) -> None:
    counted.check("download", counted.measure("GET", f"/api/v1/files/{tree.file}/content"))


def test_last_seen_is_written_when_due_in_a_short_write_transaction(
    counted: Counted, tree: Tree
) -> None:
    """A read takes no write lock for its caller, but the session's last-seen time (the idle
    timeout counts from it) and the token's last-used time are still kept to the minute."""
    signed_in = counted.client.post(
        "/api/v1/auth/login", json={"username": "hc.a1", "password": PASSWORD}
    )
    token = signed_in.cookies[SESSION_COOKIE]
    counted.client.cookies.clear()
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    long_ago = utcnow() - dt.timedelta(minutes=5)
    with counted.engine.begin() as connection:
        connection.execute(
            update(UserSession).where(UserSession.id == digest(token)).values(last_seen_at=long_ago)
        )
        connection.execute(update(ApiToken).values(last_used_at=long_ago))
    for headers in (cookie, counted.headers("hc.a1")):
        due = counted.measure_with(headers, "GET", f"/api/v1/nodes/{tree.file}")
        assert due.write_transactions == 1, due.describe()
        assert any(s.startswith("UPDATE") for s in due.queries), due.describe()
        again = counted.measure_with(headers, "GET", f"/api/v1/nodes/{tree.file}")
        assert again.write_transactions == 0, again.describe()
    with counted.engine.connect() as connection:
        seen = connection.scalar(
            select(UserSession.last_seen_at).where(UserSession.id == digest(token))
        )
        used = connection.scalar(
            select(ApiToken.last_used_at).where(
                ApiToken.token_hash == digest(counted.tokens["hc.a1"])
            )
        )
    assert seen is not None and seen > long_ago + dt.timedelta(minutes=4)
    assert used is not None and used > long_ago + dt.timedelta(minutes=4)
