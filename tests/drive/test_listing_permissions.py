"""A folder page decides each distinct case once (``_locate.Permissions``): what it says each
child allows must be what the node itself says, for every kind of caller."""

from __future__ import annotations

from tests.drive.conftest import Drive

API = "/api/v1"


def test_a_page_says_what_each_node_says(drive: Drive) -> None:
    unit_root = drive.root("sho.a1", "unit")
    folder = drive.folder("sho.a1", unit_root, "Cases")
    plain = drive.upload("sho.a1", folder["id"], "plain.txt", b"a")
    drive.upload("sho.a1", folder["id"], "other.txt", b"b")
    restricted = drive.upload("sho.a1", folder["id"], "restricted.txt", b"c")
    classified = drive.patch(
        "sho.a1", f"{API}/nodes/{restricted['id']}", json={"classification": "restricted"}
    )
    assert classified.status_code == 200, classified.text
    for who, permission in (("ct.a1", "edit"), ("hc.a2", "read")):
        body = {"subject_type": "user", "subject_id": drive.user_ids[who], "permission": permission}
        shared = drive.post("sho.a1", f"{API}/nodes/{plain['id']}/shares", json=body)
        assert shared.status_code == 201, shared.text
    sub = drive.folder("sho.a1", folder["id"], "Sub")
    drive.post(
        "sho.a1",
        f"{API}/nodes/{sub['id']}/shares",
        json={"subject_type": "unit", "subject_id": drive.unit_ids["PS-A2"]},
    )
    for who in ("sho.a1", "ct.a1", "hc.a1", "sdop.a", "hc.a2"):
        page = drive.get(who, f"{API}/nodes/{folder['id']}/children")
        if page.status_code == 404:
            continue
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert items, who
        for item in items:
            alone = drive.get(who, f"{API}/nodes/{item['id']}").json()
            assert item["permissions"] == alone["permissions"], (who, item["name"])
    page = drive.get("ct.a1", f"{API}/nodes/{folder['id']}/children").json()
    listed = {item["name"]: item["permissions"] for item in page["items"]}
    assert listed["plain.txt"] == ["read", "write"]  # the edit share
    assert listed["other.txt"] == ["read"]  # a constable reads in the unit
    assert "restricted.txt" not in listed  # above a constable's clearance
