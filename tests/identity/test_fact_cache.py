"""The per-process cache of unit reach and group memberships never outlives a change.

Two app instances on one database, each with an engine of its own, stand for two ``polaris
serve`` processes: each has its own cache (``identity.facts`` keeps one per engine), and the
database is all they share. A change made through one (or by a third party, straight in the
database) must hold on the other from its very next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from polaris.db import make_engine
from polaris.db.engine import make_session_factory
from polaris.db.uow import unit_of_work
from polaris.identity import units
from polaris.identity.units import UnitKind, UnitSpec
from tests.conftest import PG_SCHEMA
from tests.drive.conftest import seed
from tests.factories import SYSTEM
from tests.support.real_app import client_for, migrated, real_instance
from tests.support.statements import counting

SCHEMA = PG_SCHEMA + "_facts"


@dataclass
class Node:
    """One of the two 'processes'."""

    engine: Engine
    client: TestClient


@dataclass
class Pair:
    a: Node
    b: Node
    url: str
    tokens: dict[str, str]
    unit_ids: dict[str, int]

    def group(self, name: str) -> int:
        """A group of station B1 (whose officers may then share with it)."""
        admin = {"Authorization": f"Bearer {self.tokens['admin']}"}
        body = {"name": name, "unit_id": self.unit_ids["PS-B1"]}
        made = self.a.client.post("/api/v1/admin/groups", json=body, headers=admin)
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    def get(self, node: Node, who: str, url: str) -> int:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return node.client.get(url, headers=headers).status_code


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"facts-{backend}")
    with migrated(backend, directory, SCHEMA) as url:
        engines = [make_engine(url), make_engine(url)]
        instances = [real_instance(engine, directory) for engine in engines]
        session = instances[0].sessions()
        tokens, _, unit_ids = seed(session)
        session.commit()
        session.close()
        try:
            with client_for(instances[0]) as first, client_for(instances[1]) as second:
                yield Pair(Node(engines[0], first), Node(engines[1], second), url, tokens, unit_ids)
        finally:
            for engine in engines:
                engine.dispose()


def asks_for_groups(node: Node, pair: Pair, who: str, url: str) -> tuple[int, bool]:
    """The status of ``GET url`` on ``node``, and whether it read the caller's groups from the
    database (False: from the cache)."""
    with counting(node.engine) as tally:
        status = pair.get(node, who, url)
    return status, any("FROM group_member" in s for s in tally.queries)


def test_a_revoked_membership_stops_access_on_the_next_request_of_every_node(pair: Pair) -> None:
    admin = {"Authorization": f"Bearer {pair.tokens['admin']}"}
    owner = {"Authorization": f"Bearer {pair.tokens['hc.b1']}"}
    group = {"id": pair.group("SIT")}
    added = pair.a.client.post(
        f"/api/v1/admin/groups/{group['id']}/members", json={"username": "hc.a1"}, headers=admin
    )
    assert added.status_code == 204, added.text
    spaces = pair.a.client.get("/api/v1/spaces", headers=owner).json()
    root = next(s["root_id"] for s in spaces if s["kind"] == "user")
    made = pair.a.client.post(
        "/api/v1/files", params={"parent_id": root, "name": "fir.txt"}, content=b"x", headers=owner
    ).json()
    shared = pair.a.client.post(
        f"/api/v1/nodes/{made['id']}/shares",
        json={"subject_type": "group", "subject_id": group["id"]},
        headers=owner,
    )
    assert shared.status_code == 201, shared.text
    node_url = f"/api/v1/nodes/{made['id']}"
    for node in (pair.a, pair.b):
        assert pair.get(node, "hc.a1", node_url) == 200
        # The cache answers now: the membership is not read again.
        assert asks_for_groups(node, pair, "hc.a1", node_url) == (200, False)

    removed = pair.b.client.delete(
        f"/api/v1/admin/groups/{group['id']}/members/hc.a1", headers=admin
    )
    assert removed.status_code == 204, removed.text

    # The node that did not make the change read the membership again, and refused.
    assert asks_for_groups(pair.a, pair, "hc.a1", node_url) == (404, True)
    assert pair.get(pair.b, "hc.a1", node_url) == 404


def test_a_change_made_straight_in_the_database_is_seen_at_once(pair: Pair) -> None:
    """Whoever changes the memberships (another process, an operator's SQL) renews the stamp:
    the database's triggers do it, not the code of the app."""
    admin = {"Authorization": f"Bearer {pair.tokens['admin']}"}
    owner = {"Authorization": f"Bearer {pair.tokens['hc.b1']}"}
    group = {"id": pair.group("Cell")}
    pair.a.client.post(
        f"/api/v1/admin/groups/{group['id']}/members", json={"username": "hc.a2"}, headers=admin
    )
    spaces = pair.a.client.get("/api/v1/spaces", headers=owner).json()
    root = next(s["root_id"] for s in spaces if s["kind"] == "user")
    made = pair.a.client.post(
        "/api/v1/files", params={"parent_id": root, "name": "cell.txt"}, content=b"x", headers=owner
    ).json()
    pair.a.client.post(
        f"/api/v1/nodes/{made['id']}/shares",
        json={"subject_type": "group", "subject_id": group["id"]},
        headers=owner,
    )
    node_url = f"/api/v1/nodes/{made['id']}"
    assert pair.get(pair.a, "hc.a2", node_url) == 200
    assert asks_for_groups(pair.a, pair, "hc.a2", node_url) == (200, False)

    outsider = make_engine(pair.url)
    with outsider.begin() as connection:
        connection.execute(text("DELETE FROM group_member WHERE group_id = :g"), {"g": group["id"]})
    outsider.dispose()

    assert asks_for_groups(pair.a, pair, "hc.a2", node_url) == (404, True)


def test_a_new_unit_is_in_reach_on_the_next_request(pair: Pair) -> None:
    """Reach grows when a unit is made below a supervisor's: seen at once too."""
    names = {s["name"] for s in pair.a.client.get(
        "/api/v1/spaces", headers={"Authorization": f"Bearer {pair.tokens['sdop.a']}"}
    ).json()}  # fmt: skip
    assert "Unit PS-A3" not in names
    outsider = make_engine(pair.url)
    with unit_of_work(make_session_factory(outsider)) as session:
        units.create_unit(
            session=session,
            spec=UnitSpec("PS-A3", "Unit PS-A3", UnitKind.STATION, "SDV-A"),
            context=SYSTEM,
        )
    outsider.dispose()
    names = {s["name"] for s in pair.a.client.get(
        "/api/v1/spaces", headers={"Authorization": f"Bearer {pair.tokens['sdop.a']}"}
    ).json()}  # fmt: skip
    assert "Unit PS-A3" in names


def test_reach_and_groups_are_read_once_per_stamp(pair: Pair) -> None:
    """A second request of one caller reads neither the unit tree nor the groups."""
    url = "/api/v1/spaces"
    pair.get(pair.b, "si.a1", url)
    with counting(pair.b.engine) as tally:
        assert pair.get(pair.b, "si.a1", url) == 200
    assert not [s for s in tally.queries if "unit_closure" in s or "group_member" in s]
