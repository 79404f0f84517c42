"""Resumable uploads through the tus 1.0 protocol."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os

from polaris.drive import uploads
from tests.drive.conftest import CHUNK, Drive

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: object) -> str:
    return ",".join(
        f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items()
    )


def create(drive: Drive, who: str, length: int, **meta: object) -> str:
    response = drive.post(
        who,
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**meta)},
    )
    assert response.status_code == 201, response.text
    assert response.headers["Upload-Offset"] == "0"
    assert "Upload-Expires" in response.headers
    return response.headers["Location"]


def patch(drive: Drive, who: str, url: str, offset: int, data: bytes, **headers: str):  # type: ignore[no-untyped-def]
    return drive.patch(
        who,
        url,
        content=data,
        headers={
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


def offset_of(drive: Drive, who: str, url: str) -> int:
    response = drive.client.head(url, headers=drive.headers(who, **TUS))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return int(response.headers["Upload-Offset"])


def test_options_announce_the_protocol(drive: Drive) -> None:
    response = drive.client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
    }


def test_upload_in_pieces_becomes_one_file(drive: Drive) -> None:
    root = drive.root("hc.a1")
    data = os.urandom(3 * CHUNK + 123)
    url = create(drive, "hc.a1", len(data), filename="केस डायरी.pdf", parent_id=root)
    cuts = [0, 1000, CHUNK + 7, 2 * CHUNK, len(data)]
    for start, end in itertools.pairwise(cuts):
        assert offset_of(drive, "hc.a1", url) == start
        listing = drive.get("hc.a1", f"/api/v1/nodes/{root}/children").json()
        assert listing["items"] == [], "no partial file is ever visible"
        response = patch(drive, "hc.a1", url, start, data[start:end])
        assert response.status_code == 204, response.text
        assert response.headers["Upload-Offset"] == str(end)
    node_id = int(response.headers["Polaris-Node-Id"])
    node = drive.get("hc.a1", f"/api/v1/nodes/{node_id}").json()
    assert node["name"] == "केस डायरी.pdf"
    assert node["sha256"] == hashlib.sha256(data).hexdigest()
    assert response.headers["ETag"] == f'"{node["etag"]}"'
    assert drive.get("hc.a1", f"/api/v1/files/{node_id}/content").content == data
    assert drive.client.head(url, headers=drive.headers("hc.a1", **TUS)).status_code == 404


def test_resume_in_another_process_recomputes_the_hash(drive: Drive) -> None:
    root = drive.root("hc.a1")
    data = os.urandom(2 * CHUNK + 5)
    url = create(drive, "hc.a1", len(data), filename="a.bin", parent_id=root)
    assert patch(drive, "hc.a1", url, 0, data[:CHUNK]).status_code == 204
    uploads._running_hashes.clear()  # as after a restart: the running hash is gone
    response = patch(drive, "hc.a1", url, CHUNK, data[CHUNK:])
    node = drive.get("hc.a1", f"/api/v1/nodes/{response.headers['Polaris-Node-Id']}").json()
    assert node["sha256"] == hashlib.sha256(data).hexdigest()


def test_wrong_offset_is_a_conflict_and_changes_nothing(drive: Drive) -> None:
    url = create(drive, "hc.a1", 100, filename="a.txt", parent_id=drive.root("hc.a1"))
    assert patch(drive, "hc.a1", url, 0, b"x" * 10).status_code == 204
    response = patch(drive, "hc.a1", url, 5, b"y" * 10)
    assert response.status_code == 409
    assert response.json()["code"] == "offset_mismatch"
    assert response.headers["Upload-Offset"] == "10"
    assert offset_of(drive, "hc.a1", url) == 10


def test_protocol_errors(drive: Drive) -> None:
    root = drive.root("hc.a1")
    no_version = drive.post(
        "hc.a1",
        "/api/v1/uploads",
        headers={"Upload-Length": "5", "Upload-Metadata": metadata(filename="a", parent_id=root)},
    )
    assert no_version.status_code == 412
    assert no_version.headers["Tus-Version"] == "1.0.0"
    bad_meta = drive.post(
        "hc.a1",
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": "5", "Upload-Metadata": "filename !!!"},
    )
    assert bad_meta.status_code == 422
    no_length = drive.post(
        "hc.a1", "/api/v1/uploads", headers={**TUS, "Upload-Metadata": metadata(filename="a")}
    )
    assert no_length.status_code == 422
    url = create(drive, "hc.a1", 5, filename="a", parent_id=root)
    wrong_type = patch(drive, "hc.a1", url, 0, b"abc", **{"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    too_much = patch(drive, "hc.a1", url, 0, b"abcdefgh")
    assert too_much.status_code == 413
    assert offset_of(drive, "hc.a1", url) == 0


def test_uploads_are_private_to_their_owner(drive: Drive) -> None:
    url = create(drive, "hc.a1", 5, filename="a", parent_id=drive.root("hc.a1"))
    assert drive.client.head(url, headers=drive.headers("hc.a2", **TUS)).status_code == 404
    assert patch(drive, "hc.a2", url, 0, b"abcde").status_code == 404


def test_creation_checks_like_a_plain_upload(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.upload("hc.a1", root, "taken.txt", b"x")
    response = drive.post(
        "hc.a1",
        "/api/v1/uploads",
        headers={
            **TUS,
            "Upload-Length": "5",
            "Upload-Metadata": metadata(filename="taken.txt", parent_id=root),
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "name_taken"
    assert response.headers["Tus-Resumable"] == "1.0.0"
    space = drive.space("hc.a1")
    drive.put("admin", f"/api/v1/admin/spaces/{space['id']}/quota", json={"quota_bytes": 100})
    over = drive.post(
        "hc.a1",
        "/api/v1/uploads",
        headers={
            **TUS,
            "Upload-Length": "1000",
            "Upload-Metadata": metadata(filename="big.bin", parent_id=root),
        },
    )
    assert over.status_code == 507
    assert over.json()["code"] == "quota_exceeded"


def test_termination_and_expiry(drive: Drive) -> None:
    root = drive.root("hc.a1")
    url = create(drive, "hc.a1", 5, filename="a", parent_id=root)
    assert drive.delete("hc.a1", url, headers=TUS).status_code == 204
    assert drive.client.head(url, headers=drive.headers("hc.a1", **TUS)).status_code == 404
    url = create(drive, "hc.a1", 5, filename="b", parent_id=root)
    upload_id = url.rsplit("/", 1)[1]
    session = drive.instance.sessions()
    from polaris.clock import utcnow
    from polaris.drive.models import Upload

    row = session.get(Upload, upload_id)
    assert row is not None
    row.expires_at = utcnow()
    session.commit()
    session.close()
    response = drive.client.head(url, headers=drive.headers("hc.a1", **TUS))
    assert response.status_code == 404
    assert patch(drive, "hc.a1", url, 0, b"abcde").status_code == 404


def test_new_version_through_tus(drive: Drive) -> None:
    node = drive.upload("hc.a1", drive.root("hc.a1"), "doc.txt", b"old")
    url = create(drive, "hc.a1", 3, node_id=node["id"])
    response = patch(drive, "hc.a1", url, 0, b"new")
    assert response.headers["Polaris-Version"] == "2"
    assert drive.get("hc.a1", f"/api/v1/files/{node['id']}/content").content == b"new"


def test_zero_length_upload_completes_at_creation(drive: Drive) -> None:
    root = drive.root("hc.a1")
    response = drive.post(
        "hc.a1",
        "/api/v1/uploads",
        headers={
            **TUS,
            "Upload-Length": "0",
            "Upload-Metadata": metadata(filename="empty.txt", parent_id=root),
        },
    )
    assert response.status_code == 201
    node = drive.get("hc.a1", f"/api/v1/nodes/{response.headers['Polaris-Node-Id']}").json()
    assert node["size"] == 0
