"""The drive's usage consumer: after moves, copies and purges it recounts the spaces they touched
and puts a drifted ``used_bytes`` right; enforcement stays in the write (tests/drive/test_files)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from polaris import events
from polaris.db.uow import unit_of_work
from polaris.drive.models import Space
from polaris.handlers import load_consumers
from tests.drive.conftest import Drive

API = "/api/v1"


def drift(drive: Drive, space_id: int, by: int) -> None:
    with unit_of_work(drive.instance.sessions) as session:
        session.execute(
            update(Space).where(Space.id == space_id).values(used_bytes=Space.used_bytes + by)
        )


def test_a_move_between_spaces_recounts_both(
    drive: Drive, caplog: pytest.LogCaptureFixture
) -> None:
    load_consumers()
    mine, unit = drive.space("sho.a1"), drive.space("sho.a1", "unit")
    file = drive.upload("sho.a1", int(mine["root_id"]), "memo.txt", b"12345")["id"]
    drive.upload("sho.a1", int(unit["root_id"]), "kept.txt", b"123")
    events.drain(drive.instance.sessions)
    drift(drive, int(mine["id"]), 1000)  # a bug, or a hand edit
    drift(drive, int(unit["id"]), -2)
    response = drive.patch("sho.a1", f"{API}/nodes/{file}", json={"parent_id": unit["root_id"]})
    assert response.status_code == 200, response.text
    assert drive.used_bytes("sho.a1") == 1000  # the move moved 5 bytes, not the drift
    with caplog.at_level(logging.WARNING, logger="polaris.drive"):
        events.drain(drive.instance.sessions)
    assert drive.used_bytes("sho.a1") == 0
    assert drive.used_bytes("sho.a1", "unit") == 8
    assert "recorded 1000 bytes in use but holds 0" in caplog.text


def test_usage_that_is_right_is_left_alone(drive: Drive, caplog: pytest.LogCaptureFixture) -> None:
    load_consumers()
    root = drive.root("hc.a1")
    folder = drive.folder("hc.a1", root, "Cases")["id"]
    drive.upload("hc.a1", folder, "a.txt", b"abc")
    copy = drive.post(
        "hc.a1", f"{API}/nodes/{folder}/copy", json={"parent_id": root, "name": "Copy"}
    )
    assert copy.status_code == 201, copy.text
    with caplog.at_level(logging.WARNING, logger="polaris.drive"):
        events.drain(drive.instance.sessions)
    assert drive.used_bytes("hc.a1") == 6
    assert "usage corrected" not in caplog.text
