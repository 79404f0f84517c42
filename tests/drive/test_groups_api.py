"""Groups over HTTP: administrators manage them, and a share with a group reaches its members."""

from __future__ import annotations

from tests.drive.conftest import Drive


def test_group_share_reaches_members_added_and_stops_when_removed(drive: Drive) -> None:
    created = drive.post("admin", "/api/v1/admin/groups", json={"name": "SIT दल"})
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    added = drive.post(
        "admin", f"/api/v1/admin/groups/{group_id}/members", json={"username": "hc.b1"}
    )
    assert added.status_code == 204
    listed = drive.get("hc.b1", "/api/v1/groups").json()
    assert [g["member_ids"] for g in listed if g["id"] == group_id] == [[drive.user_ids["hc.b1"]]]
    # A group of no unit is seen by its members and administrators only (access.group_reach).
    assert drive.get("hc.a1", "/api/v1/groups").json() == []

    node = drive.upload("hc.a1", drive.root("hc.a1"), "seizure-list.pdf", b"%PDF-1.7 list")
    to_group = {"subject_type": "group", "subject_id": group_id, "permission": "read"}
    # A group the sharer may not see answers as missing: its id tells nothing.
    hidden = drive.post("hc.a1", f"/api/v1/nodes/{node['id']}/shares", json=to_group)
    missing = drive.post(
        "hc.a1", f"/api/v1/nodes/{node['id']}/shares", json={**to_group, "subject_id": 987654}
    )
    assert (hidden.status_code, hidden.json()["code"]) == (404, "share_subject_not_found")
    assert hidden.json() == missing.json()
    drive.post("admin", f"/api/v1/admin/groups/{group_id}/members", json={"username": "hc.a1"})
    share = drive.post("hc.a1", f"/api/v1/nodes/{node['id']}/shares", json=to_group)
    assert share.status_code == 201, share.text
    assert drive.get("hc.b1", f"/api/v1/files/{node['id']}/content").content == b"%PDF-1.7 list"
    assert drive.get("hc.a2", f"/api/v1/files/{node['id']}/content").status_code == 404

    removed = drive.delete("admin", f"/api/v1/admin/groups/{group_id}/members/hc.b1")
    assert removed.status_code == 204
    assert drive.get("hc.b1", f"/api/v1/files/{node['id']}/content").status_code == 404


def test_only_administrators_manage_groups(drive: Drive) -> None:
    refused = drive.post("sho.a1", "/api/v1/admin/groups", json={"name": "mine"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "admin_required"


def test_groups_list_only_what_the_caller_may_see(drive: Drive) -> None:
    for name, unit in (("A1 beat", "PS-A1"), ("B1 SIT", "PS-B1")):
        created = drive.post(
            "admin", "/api/v1/admin/groups", json={"name": name, "unit_id": drive.unit_ids[unit]}
        )
        assert created.status_code == 201, created.text
    b1 = drive.get("admin", "/api/v1/groups").json()
    assert [g["name"] for g in b1] == ["A1 beat", "B1 SIT"]
    b1_id = next(g["id"] for g in b1 if g["name"] == "B1 SIT")
    drive.post("admin", f"/api/v1/admin/groups/{b1_id}/members", json={"username": "hc.b1"})
    assert [g["name"] for g in drive.get("hc.a1", "/api/v1/groups").json()] == ["A1 beat"]
    assert [g["name"] for g in drive.get("sdop.a", "/api/v1/groups").json()] == ["A1 beat"]
    assert [(g["name"], g["member_ids"]) for g in drive.get("hc.b1", "/api/v1/groups").json()] == [
        ("B1 SIT", [drive.user_ids["hc.b1"]])
    ]
    drive.post("admin", "/api/v1/admin/groups", json={"name": "twice"})
    again = drive.post("admin", "/api/v1/admin/groups", json={"name": "twice"})
    assert again.status_code == 409
    assert again.json()["code"] == "group_exists"
