"""Every change of the drive appends its events (docs/events.md) in the change's transaction:
kind, subject, space and data, for each way in (the API, tus uploads, copies, the trash)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from polaris.events.models import DomainEvent
from tests.drive.conftest import Drive
from tests.drive.test_tus import create, patch
from tests.support.events import EventLog

API = "/api/v1"


def versions(drive: Drive, who: str, node_id: int) -> list[int]:
    response = drive.get(who, f"{API}/files/{node_id}/versions")
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json())


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}  # type: ignore[no-any-return]


def test_nodes_and_versions(drive: Drive) -> None:
    log = EventLog(drive.instance.sessions)
    space, root = int(drive.space("hc.a1")["id"]), drive.root("hc.a1")
    me = drive.user_ids["hc.a1"]

    folder = drive.folder("hc.a1", root, "Cases")["id"]
    assert log.take() == [
        ("node.created", ("node", folder), space, {"parent_id": root, "level": 0, "folder": True})
    ]

    file = drive.upload("hc.a1", folder, "fir.txt", b"first")["id"]
    [v1] = versions(drive, "hc.a1", file)
    at_file = {"parent_id": folder, "level": 0}
    assert log.take() == [
        ("node.created", ("node", file), space, {**at_file, "folder": False}),
        ("version.added", ("version", v1), space, {"node_id": file, **at_file}),
    ]

    ok(drive.put("hc.a1", f"{API}/files/{file}/content", content=b"second"))
    v2 = versions(drive, "hc.a1", file)[-1]
    assert log.take() == [("version.added", ("version", v2), space, {"node_id": file, **at_file})]

    ok(drive.post("hc.a1", f"{API}/files/{file}/versions/{v1}/restore"))
    v3 = versions(drive, "hc.a1", file)[-1]
    assert log.take() == [
        ("version.restored", ("version", v3), space, {"node_id": file, **at_file})
    ]

    url = create(drive, "hc.a1", 5, filename="tus.txt", parent_id=folder)
    assert log.take() == []  # nothing changed in the drive yet
    patch(drive, "hc.a1", url, 0, b"bytes")
    [tus] = [e for e in log.take() if e[0] == "node.created"]
    assert tus[2:] == (space, {**at_file, "folder": False})

    ok(drive.patch("hc.a1", f"{API}/nodes/{file}", json={"name": "FIR 12.txt"}))
    assert log.take() == [("node.renamed", ("node", file), space, at_file)]

    other = drive.folder("hc.a1", root, "Closed")["id"]
    log.take()
    ok(drive.patch("hc.a1", f"{API}/nodes/{file}", json={"parent_id": other, "name": "f.txt"}))
    moved = {"parent_id": other, "level": 0}
    assert log.take() == [
        (
            "node.moved",
            ("node", file),
            space,
            {**moved, "from_parent_id": folder, "from_space_id": space},
        ),
        ("node.renamed", ("node", file), space, moved),
    ]

    ok(drive.patch("hc.a1", f"{API}/nodes/{other}", json={"classification": "restricted"}))
    assert log.take() == [
        (
            "node.classified",
            ("node", other),
            space,
            {"parent_id": root, "level": 1, "from_level": 0},
        )
    ]

    copy = ok(drive.post("hc.a1", f"{API}/nodes/{other}/copy", json={"parent_id": folder}), 201)
    [copied_file] = [
        item["id"]
        for item in drive.get("hc.a1", f"{API}/nodes/{copy['id']}/children").json()["items"]
    ]
    [copied_version] = versions(drive, "hc.a1", copied_file)
    assert log.take() == [
        (
            "node.copied",
            ("node", copy["id"]),
            space,
            {"parent_id": folder, "level": 1, "source_id": other, "folder": True},
        ),
        (
            "version.added",
            ("version", copied_version),
            space,
            {"node_id": copied_file, "parent_id": copy["id"], "level": 1},
        ),
    ]

    ok(drive.delete("hc.a1", f"{API}/nodes/{other}"), 204)
    assert log.take() == [("node.trashed", ("node", other), space, {"parent_id": root, "level": 1})]
    ok(drive.post("hc.a1", f"{API}/nodes/{other}/restore"))
    assert log.take() == [
        ("node.restored", ("node", other), space, {"parent_id": root, "level": 1})
    ]

    file_versions = versions(drive, "hc.a1", file)
    ok(drive.delete("hc.a1", f"{API}/nodes/{other}"), 204)
    log.take()
    ok(drive.delete("admin", f"{API}/admin/nodes/{other}"), 204)
    assert log.take() == [  # after its rows are gone, parents first
        ("node.purged", ("node", other), space, {"parent_id": root, "level": 1, "version_ids": []}),
        (
            "node.purged",
            ("node", file),
            space,
            {"parent_id": other, "level": 1, "version_ids": file_versions},
        ),
    ]
    with drive.instance.sessions() as session:
        actors = set(session.scalars(select(DomainEvent.actor_id)))
    assert actors >= {me, drive.user_ids["admin"]}


def test_a_move_between_spaces_names_both(drive: Drive) -> None:
    mine, unit = drive.space("sho.a1"), drive.space("sho.a1", "unit")
    file = drive.upload("sho.a1", int(mine["root_id"]), "memo.txt", b"memo")["id"]
    log = EventLog(drive.instance.sessions)
    target = int(unit["root_id"])
    ok(drive.patch("sho.a1", f"{API}/nodes/{file}", json={"parent_id": target}))
    assert log.take() == [
        (
            "node.moved",
            ("node", file),
            unit["id"],
            {
                "parent_id": target,
                "level": 0,
                "from_parent_id": mine["root_id"],
                "from_space_id": mine["id"],
            },
        )
    ]


def test_shares_name_their_grantee(drive: Drive) -> None:
    root = drive.root("hc.a1")
    space = drive.space("hc.a1")["id"]
    file = drive.upload("hc.a1", root, "note.txt", b"note")["id"]
    log = EventLog(drive.instance.sessions)
    cases = [
        ("user", drive.user_ids["ct.a1"], "read", 1),
        ("unit", drive.unit_ids["PS-A1"], "edit", 2),
    ]
    for subject_type, subject_id, permission, level in cases:
        body = {"subject_type": subject_type, "subject_id": subject_id, "permission": permission}
        share = ok(drive.post("hc.a1", f"{API}/nodes/{file}/shares", json=body), 201)
        granted = {"node_id": file, "level": 0, f"{subject_type}_id": subject_id}
        assert log.take() == [
            ("share.granted", ("share", share["id"]), space, {**granted, "permission_level": level})
        ]
        ok(drive.delete("hc.a1", f"{API}/shares/{share['id']}"), 204)
        assert log.take() == [
            ("share.revoked", ("share", share["id"]), space, {**granted, "permission_level": level})
        ]


def test_a_refused_change_appends_nothing(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.upload("hc.a1", root, "same.txt", b"one")
    log = EventLog(drive.instance.sessions)
    response = drive.post(
        "hc.a1", f"{API}/files", params={"parent_id": root, "name": "same.txt"}, content=b"two"
    )
    assert response.status_code == 409
    assert drive.post("ct.a1", f"{API}/nodes/{root}/folders", json={"name": "x"}).status_code == 404
    assert log.take() == []
