"""File versions over HTTP: listed newest first, each downloadable, restored as a new version."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from sqlalchemy import select

from polaris.audit.models import AuditRecord
from tests.drive.conftest import CHUNK, Drive

FILES = "/api/v1/files"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def versions(drive: Drive, who: str, node_id: int) -> list[dict[str, Any]]:
    response = drive.get(who, f"{FILES}/{node_id}/versions")
    assert response.status_code == 200, response.text
    return list(response.json())


def audit_records(drive: Drive, action: str, node_id: int) -> list[AuditRecord]:
    with drive.instance.sessions() as session:
        query = (
            select(AuditRecord)
            .where(AuditRecord.action == action, AuditRecord.object_id == str(node_id))
            .order_by(AuditRecord.id)
        )
        return list(session.scalars(query).all())


@pytest.fixture
def three(drive: Drive) -> tuple[int, list[bytes]]:
    """hc.a1's file uploaded three times (with overwrite): (id, contents oldest first)."""
    root = drive.root("hc.a1")
    bodies = [os.urandom(100), os.urandom(CHUNK + 1), b""]
    node_id = None
    for body in bodies:
        node = drive.upload("hc.a1", root, "history.bin", body, overwrite="true")
        assert node_id in (None, node["id"])
        node_id = node["id"]
    assert node_id is not None
    return int(node_id), bodies


def test_versions_are_listed_newest_first(drive: Drive, three: tuple[int, list[bytes]]) -> None:
    node_id, bodies = three
    listed = versions(drive, "hc.a1", node_id)
    assert [v["number"] for v in listed] == [3, 2, 1]
    assert [v["sha256"] for v in listed] == [sha256(b) for b in reversed(bodies)]
    assert [v["size"] for v in listed] == [len(b) for b in reversed(bodies)]
    assert all(v["restored_from"] is None for v in listed)
    assert all(v["created_by"] == drive.user_ids["hc.a1"] for v in listed)
    assert len({v["id"] for v in listed}) == 3


def test_every_version_can_be_downloaded(drive: Drive, three: tuple[int, list[bytes]]) -> None:
    node_id, bodies = three
    listed = versions(drive, "hc.a1", node_id)
    for version, body in zip(listed, reversed(bodies), strict=True):
        response = drive.get("hc.a1", f"{FILES}/{node_id}/versions/{version['id']}/content")
        assert response.status_code == 200, response.text
        assert response.content == body
        assert response.headers["Content-Disposition"].startswith("attachment;")
    current = drive.get("hc.a1", f"{FILES}/{node_id}/content")
    assert current.content == bodies[-1]


def test_an_old_version_honours_range_and_is_audited(
    drive: Drive, three: tuple[int, list[bytes]]
) -> None:
    node_id, bodies = three
    second = versions(drive, "hc.a1", node_id)[1]
    url = f"{FILES}/{node_id}/versions/{second['id']}/content"
    before = len(audit_records(drive, "file.read", node_id))
    response = drive.client.get(
        url, headers=drive.headers("hc.a1", Range=f"bytes={CHUNK - 2}-{CHUNK}")
    )
    assert response.status_code == 206
    assert response.content == bodies[1][CHUNK - 2 : CHUNK + 1]
    assert response.headers["Content-Range"] == f"bytes {CHUNK - 2}-{CHUNK}/{CHUNK + 1}"
    reads = audit_records(drive, "file.read", node_id)
    assert len(reads) == before + 1
    assert reads[-1].version_hash == second["sha256"]


def test_an_old_version_has_an_etag_of_its_own(
    drive: Drive, three: tuple[int, list[bytes]]
) -> None:
    node_id, _ = three
    first = versions(drive, "hc.a1", node_id)[-1]
    old = drive.get("hc.a1", f"{FILES}/{node_id}/versions/{first['id']}/content")
    current = drive.get("hc.a1", f"{FILES}/{node_id}/content")
    assert old.headers["ETag"] != current.headers["ETag"]


def test_restore_makes_a_new_version_with_the_old_content(
    drive: Drive, three: tuple[int, list[bytes]]
) -> None:
    node_id, bodies = three
    before = versions(drive, "hc.a1", node_id)
    first = before[-1]
    assert first["number"] == 1
    response = drive.post("hc.a1", f"{FILES}/{node_id}/versions/{first['id']}/restore")
    assert response.status_code == 200, response.text
    node = response.json()
    assert node["id"] == node_id
    assert node["version"] == 4
    assert node["sha256"] == sha256(bodies[0])
    assert node["size"] == len(bodies[0])

    listed = versions(drive, "hc.a1", node_id)
    assert [v["number"] for v in listed] == [4, 3, 2, 1]
    newest = listed[0]
    assert newest["sha256"] == first["sha256"]
    assert newest["restored_from"] == first["id"]
    assert newest["id"] != first["id"]
    assert listed[1:] == before  # history is untouched
    assert drive.get("hc.a1", f"{FILES}/{node_id}/content").content == bodies[0]


def test_restore_changes_the_etag(drive: Drive, three: tuple[int, list[bytes]]) -> None:
    node_id, _ = three
    before = drive.get("hc.a1", f"/api/v1/nodes/{node_id}").json()["etag"]
    first = versions(drive, "hc.a1", node_id)[-1]
    restored = drive.post("hc.a1", f"{FILES}/{node_id}/versions/{first['id']}/restore")
    assert restored.status_code == 200
    assert restored.json()["etag"] != before
    assert drive.get("hc.a1", f"/api/v1/nodes/{node_id}").json()["etag"] == restored.json()["etag"]


def test_restore_is_audited(drive: Drive, three: tuple[int, list[bytes]]) -> None:
    node_id, bodies = three
    first = versions(drive, "hc.a1", node_id)[-1]
    assert audit_records(drive, "file.restore_version", node_id) == []
    drive.post("hc.a1", f"{FILES}/{node_id}/versions/{first['id']}/restore")
    records = audit_records(drive, "file.restore_version", node_id)
    assert len(records) == 1
    record = records[0]
    assert record.version_hash == sha256(bodies[0])
    assert record.decision == "allow"
    assert record.actor_id == str(drive.user_ids["hc.a1"])
    assert record.detail_value == {"from_version": 1, "version": 4}


def test_restore_counts_against_the_quota(drive: Drive, three: tuple[int, list[bytes]]) -> None:
    node_id, bodies = three
    space = drive.space("hc.a1")
    used = drive.used_bytes("hc.a1")
    assert used == sum(len(b) for b in bodies)
    quota = drive.put(
        "admin", f"/api/v1/admin/spaces/{space['id']}/quota", json={"quota_bytes": used + 50}
    )
    assert quota.status_code == 200, quota.text
    first = versions(drive, "hc.a1", node_id)[-1]  # 100 bytes: does not fit
    refused = drive.post("hc.a1", f"{FILES}/{node_id}/versions/{first['id']}/restore")
    assert refused.status_code == 507
    assert refused.json()["code"] == "quota_exceeded"
    assert len(versions(drive, "hc.a1", node_id)) == 3
    assert audit_records(drive, "file.restore_version", node_id) == []


def test_a_version_of_another_file_is_404(drive: Drive, three: tuple[int, list[bytes]]) -> None:
    node_id, _ = three
    other = drive.upload("hc.a1", drive.root("hc.a1"), "other.txt", b"other")
    foreign = versions(drive, "hc.a1", other["id"])[0]["id"]
    download = drive.get("hc.a1", f"{FILES}/{node_id}/versions/{foreign}/content")
    assert download.status_code == 404
    restore = drive.post("hc.a1", f"{FILES}/{node_id}/versions/{foreign}/restore")
    assert restore.status_code == 404
    assert len(versions(drive, "hc.a1", node_id)) == 3
    missing = drive.get("hc.a1", f"{FILES}/{node_id}/versions/987654321/content")
    assert missing.status_code == 404


def test_someone_else_cannot_list_download_or_restore(
    drive: Drive, three: tuple[int, list[bytes]]
) -> None:
    node_id, _ = three
    first = versions(drive, "hc.a1", node_id)[-1]
    assert drive.get("hc.b1", f"{FILES}/{node_id}/versions").status_code == 404
    url = f"{FILES}/{node_id}/versions/{first['id']}"
    assert drive.get("hc.b1", f"{url}/content").status_code == 404
    assert drive.post("hc.b1", f"{url}/restore").status_code == 404
    assert len(versions(drive, "hc.a1", node_id)) == 3
