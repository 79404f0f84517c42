"""Notifications of shares over HTTP: made by the change-stream consumer, one per person a share
reaches (directly, through their unit or group), counted, listed, marked read, taken back when
the share is revoked before it was read; hidden when the reader may no longer see the node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from polaris.events import drain, head_position, since
from polaris.notifications.shares import follow_shares
from tests.drive.conftest import Drive, drive_on

COUNT = "/api/v1/notifications/count"
LIST = "/api/v1/notifications"


@pytest.fixture
def drive(engine: Engine, tmp_path: Path) -> Iterator[Drive]:
    yield from drive_on(engine, tmp_path)


def settle(drive: Drive) -> None:
    drain(drive.instance.sessions)


def unread(drive: Drive, who: str) -> int:
    answer = drive.get(who, COUNT)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["unread"])


def share(drive: Drive, who: str, node: int, **subject: object) -> int:
    answer = drive.post(who, f"/api/v1/nodes/{node}/shares", json={"permission": "read", **subject})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_a_person_shared_with_is_told_and_can_mark_it_read(drive: Drive) -> None:
    settle(drive)  # the consumer starts at the head of the stream
    node = drive.upload("hc.a1", drive.root("hc.a1"), "seizure-list.pdf", b"%PDF-1.7")
    share(drive, "hc.a1", node["id"], subject_type="user", subject_id=drive.user_ids["hc.b1"])
    assert unread(drive, "hc.b1") == 0  # not before the consumer ran
    settle(drive)
    assert unread(drive, "hc.b1") == 1
    assert unread(drive, "hc.a1") == 0  # not the sharer
    listed = drive.get("hc.b1", LIST).json()
    [item] = listed["notifications"]
    assert item["text"] == "Hc.A1 shared seizure-list.pdf with you"
    assert item["url"] == f"/drive/file/{node['id']}"
    assert item["read"] is False and listed["next_before"] is None
    hindi = drive.client.get(LIST, headers=drive.headers("hc.b1", **{"Accept-Language": "hi"}))
    assert hindi.json()["notifications"][0]["text"] != item["text"]
    # Someone else's id is passed over like one that does not exist.
    other = drive.post("hc.a2", f"{LIST}/read", json={"ids": [item["id"]]})
    assert other.json() == {"unread": 0}
    assert unread(drive, "hc.b1") == 1
    done = drive.post("hc.b1", f"{LIST}/read", json={"ids": [item["id"]]})
    assert done.json() == {"unread": 0}
    assert drive.get("hc.b1", LIST).json()["notifications"][0]["read"] is True


def test_a_unit_share_tells_its_cleared_officers_and_a_revoke_takes_it_back(drive: Drive) -> None:
    settle(drive)
    node = drive.upload("hc.b1", drive.root("hc.b1"), "memo.txt", b"memo")
    share_id = share(
        drive, "hc.b1", node["id"], subject_type="unit", subject_id=drive.unit_ids["PS-A1"]
    )
    settle(drive)
    for officer in ("hc.a1", "ct.a1", "si.a1", "sho.a1"):
        assert unread(drive, officer) == 1, officer
    assert unread(drive, "hc.a2") == 0 and unread(drive, "sdop.a") == 0
    drive.post("ct.a1", f"{LIST}/read", json={"ids": None})
    revoked = drive.delete("hc.b1", f"/api/v1/shares/{share_id}")
    assert revoked.status_code == 204, revoked.text
    settle(drive)
    assert unread(drive, "hc.a1") == 0
    # The one already read stays, but is not shown: the node is no longer theirs to read.
    assert drive.get("ct.a1", LIST).json()["notifications"] == []


def test_a_unit_share_with_the_units_below_and_a_group_share(drive: Drive) -> None:
    settle(drive)
    node = drive.upload("hc.b1", drive.root("hc.b1"), "circular.txt", b"c")
    share(
        drive,
        "hc.b1",
        node["id"],
        subject_type="unit",
        subject_id=drive.unit_ids["SDV-A"],
        include_subunits=True,
    )
    created = drive.post("admin", "/api/v1/admin/groups", json={"name": "SIT"})
    group_id = created.json()["id"]
    drive.post("admin", f"/api/v1/admin/groups/{group_id}/members", json={"username": "hc.b1"})
    drive.post("admin", f"/api/v1/admin/groups/{group_id}/members", json={"username": "admin"})
    other = drive.upload("hc.b1", drive.root("hc.b1"), "note.txt", b"n")
    share(drive, "hc.b1", other["id"], subject_type="group", subject_id=group_id)
    settle(drive)
    assert [unread(drive, who) for who in ("sdop.a", "hc.a1", "hc.a2", "admin")] == [1, 1, 1, 1]
    assert unread(drive, "hc.b1") == 0


def test_the_consumer_skips_a_share_revoked_before_it_ran(drive: Drive) -> None:
    settle(drive)
    node = drive.upload("hc.a1", drive.root("hc.a1"), "x.txt", b"x")
    share_id = share(
        drive, "hc.a1", node["id"], subject_type="user", subject_id=drive.user_ids["hc.b1"]
    )
    drive.delete("hc.a1", f"/api/v1/shares/{share_id}")
    settle(drive)
    assert unread(drive, "hc.b1") == 0


def test_a_batch_handed_over_twice_tells_nobody_twice(drive: Drive) -> None:
    settle(drive)
    head = events_head(drive)
    node = drive.upload("hc.a1", drive.root("hc.a1"), "y.txt", b"y")
    share(drive, "hc.a1", node["id"], subject_type="unit", subject_id=drive.unit_ids["PS-B1"])
    settle(drive)
    session = drive.instance.sessions()
    batch = since(session, after=head, kinds=["share.granted"])
    assert len(batch) == 1
    follow_shares(session, batch)
    session.commit()
    session.close()
    assert unread(drive, "hc.b1") == 1


def events_head(drive: Drive) -> int:
    session = drive.instance.sessions()
    try:
        return head_position(session)
    finally:
        session.close()


def test_bad_input_is_a_clear_error(drive: Drive) -> None:
    assert drive.post("hc.a1", f"{LIST}/read", json={"ids": [0]}).status_code == 422
    assert drive.post("hc.a1", f"{LIST}/read", json={"id": 1}).status_code == 422
    assert drive.get("hc.a1", LIST, params={"limit": 1000}).status_code == 422
    assert drive.client.get(COUNT).status_code == 401
