"""Lowering a node's own classification (``declassify``) over the API: heads of units over what
they reach and administrators may; owners and everyone else with ``classify`` only raise, and a
refused lowering is answered and audited like any refused classification."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from polaris.audit.models import AuditRecord
from polaris.drive import classifying
from polaris.drive._locate import locate
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.drive.conftest import Drive
from tests.drive.test_nodes import API, create_folder, node


def _set(drive: Drive, who: str, node_id: int, level: str) -> Any:
    return drive.patch(who, f"{API}/nodes/{node_id}", json={"classification": level})


def _denied(drive: Drive, node_id: int) -> list[tuple[str, str | None]]:
    with drive.instance.sessions() as session:
        return [
            (r.action, r.reason)
            for r in session.scalars(
                select(AuditRecord)
                .where(AuditRecord.decision == "deny", AuditRecord.object_id == str(node_id))
                .order_by(AuditRecord.id)
            )
        ]


def test_an_owner_raises_but_may_not_lower(drive: Drive) -> None:
    mine = drive.folder("hc.a1", drive.root("hc.a1"), "mine")
    raised = _set(drive, "hc.a1", mine["id"], "restricted")
    assert raised.status_code == 200, raised.text
    lowered = _set(drive, "hc.a1", mine["id"], "unclassified")
    assert lowered.status_code == 403
    # The same answer as any refused classification on this route (si.a1 may not classify).
    unit_folder = drive.folder("hc.a1", drive.root("hc.a1", "unit"), "case")
    no_right = _set(drive, "si.a1", unit_folder["id"], "restricted")
    assert no_right.status_code == 403
    assert lowered.json() == no_right.json()
    assert lowered.headers["content-type"] == no_right.headers["content-type"]
    assert node(drive, "hc.a1", mine["id"])["classification"] == "restricted"
    assert _denied(drive, mine["id"]) == [("node.declassify", "no_reach")]
    # The API lists what the caller may do: classify, not declassify.
    permissions = node(drive, "hc.a1", mine["id"])["permissions"]
    assert "classify" in permissions and "declassify" not in permissions


def test_heads_of_units_and_administrators_lower(drive: Drive) -> None:
    unit_root = drive.root("hc.a1", "unit")
    made = create_folder(drive, "sho.a1", unit_root, "case", classification="confidential")
    assert made.status_code == 201, made.text
    case = made.json()
    assert "declassify" in node(drive, "sho.a1", case["id"])["permissions"]
    # The station head, in their unit.
    assert _set(drive, "sho.a1", case["id"], "restricted").status_code == 200
    # The sub-divisional head, over a station below theirs (a higher authority).
    assert _set(drive, "sdop.a", case["id"], "unclassified").status_code == 200
    assert node(drive, "si.a1", case["id"])["classification"] == "unclassified"
    # An administrator, over what they may read: here a folder shared with them to read.
    shared = create_folder(drive, "sho.a1", unit_root, "shared", classification="confidential")
    body = {"subject_type": "user", "subject_id": drive.user_ids["admin"], "permission": "read"}
    granted = drive.post("sho.a1", f"{API}/nodes/{shared.json()['id']}/shares", json=body)
    assert granted.status_code == 201, granted.text
    assert _set(drive, "admin", shared.json()["id"], "restricted").status_code == 200
    # Not what they may not read (a personal folder): not found, as for any other action,
    # rather than an answer that says it exists; refused and audited by ``access``.
    mine = drive.folder("hc.a1", drive.root("hc.a1"), "mine")
    assert _set(drive, "hc.a1", mine["id"], "restricted").status_code == 200
    lowered = _set(drive, "admin", mine["id"], "unclassified")
    missing = _set(drive, "admin", 99_999_999, "unclassified")
    assert lowered.status_code == missing.status_code == 404
    assert lowered.json() == missing.json()
    assert node(drive, "hc.a1", mine["id"])["classification"] == "restricted"
    assert _denied(drive, mine["id"]) == [("node.declassify", "no_reach")]
    with drive.instance.sessions() as session:
        allowed = session.scalars(
            select(AuditRecord.action).where(
                AuditRecord.action == "node.classify", AuditRecord.object_id == str(case["id"])
            )
        ).all()
    assert len(allowed) == 2


def test_a_hidden_node_is_refused_like_a_missing_one(drive: Drive) -> None:
    secret = drive.folder("sho.a1", drive.root("sho.a1"), "own")
    assert _set(drive, "sho.a1", secret["id"], "restricted").status_code == 200
    hidden = _set(drive, "hc.a2", secret["id"], "unclassified")
    missing = _set(drive, "hc.a2", 99_999_999, "unclassified")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_the_form_offers_only_upward_levels_without_declassify(drive: Drive) -> None:
    mine = drive.folder("si.a1", drive.root("si.a1"), "mine")
    assert _set(drive, "si.a1", mine["id"], "restricted").status_code == 200
    with drive.instance.sessions() as session:
        located = locate(session, mine["id"])
        assert located is not None

        def choices(username: str) -> list[str]:
            user = session.scalars(select(User).where(User.username == username)).one()
            actor = actor_for(session=session, user=user, auth_factors="password")
            return [c.name.lower() for c in classifying.classification_choices(actor, located)]

        assert choices("si.a1") == ["restricted", "confidential"]
        assert choices("admin") == []  # not theirs to read: nor to lower
        assert choices("hc.a1") == []
