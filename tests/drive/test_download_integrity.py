"""Downloads of damaged content: refused before the status line, or cut short; audited as failed.

Each case deletes or forges a stored object on disk (the attack run's method) and checks the
status, the audit trail (``file.read`` only when content was released, ``file.read_failed`` for
every failure) and the server log.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from polaris.audit.models import AuditRecord
from polaris.drive.models import FileVersion
from polaris.drive.reads import StreamAborted
from polaris.storage import LocalBackend, names
from polaris.storage.refs import ContentRef
from tests.drive.conftest import CHUNK, Drive

FILES = "/api/v1/files"


def upload(drive: Drive, name: str, data: bytes) -> tuple[int, FileVersion]:
    node = drive.upload("hc.a1", drive.root("hc.a1"), name, data)
    with drive.instance.sessions() as session:
        version = session.scalars(
            select(FileVersion).where(FileVersion.node_id == node["id"])
        ).one()
    return int(node["id"]), version


def blob_path(drive: Drive, name: str) -> Path:
    backend = drive.instance.blobs.backend
    assert isinstance(backend, LocalBackend)
    return backend.root / name


def chunk_names(version: FileVersion) -> list[str]:
    return [names.chunk_name(c.chunk_id) for c in ContentRef.from_dict(version.content).chunks]


def records(drive: Drive, node_id: int) -> list[AuditRecord]:
    with drive.instance.sessions() as session:
        query = (
            select(AuditRecord)
            .where(
                AuditRecord.action.in_(("file.read", "file.read_failed")),
                AuditRecord.object_id == str(node_id),
            )
            .order_by(AuditRecord.id)
        )
        return list(session.scalars(query).all())


def get(drive: Drive, node_id: int, **headers: str):  # type: ignore[no-untyped-def]
    return drive.client.get(f"{FILES}/{node_id}/content", headers=drive.headers("hc.a1", **headers))


def assert_refused_and_audited(drive: Drive, node_id: int, response, **detail: object) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "integrity_error"
    assert "content-disposition" not in response.headers  # not the file's response
    [record] = records(drive, node_id)
    assert record.action == "file.read_failed"
    assert record.reason == "integrity_error"
    assert record.decision == "allow"
    assert '"sent_bytes":0' in record.detail.replace(" ", "")
    for key, value in detail.items():
        assert f'"{key}":"{value}"' in record.detail.replace(" ", "")


def test_a_missing_manifest_is_a_500_before_any_byte_and_audited_as_failed(
    drive: Drive, caplog: pytest.LogCaptureFixture
) -> None:
    node_id, version = upload(drive, "a.bin", os.urandom(3 * CHUNK))
    blob_path(drive, names.manifest_name(version.manifest_id)).unlink()
    with caplog.at_level(logging.ERROR, logger="polaris.drive.reads"):
        response = get(drive, node_id)
    assert_refused_and_audited(drive, node_id, response, manifest_id=version.manifest_id)
    assert version.manifest_id not in response.text
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"node {node_id} version 1" in logged and version.manifest_id in logged


def test_a_forged_manifest_is_refused(drive: Drive) -> None:
    """Another valid manifest copied over this one's name: bound to its id, so it fails."""
    node_id, version = upload(drive, "a.bin", os.urandom(2 * CHUNK))
    _, other = upload(drive, "b.bin", os.urandom(2 * CHUNK))
    shutil.copyfile(
        blob_path(drive, names.manifest_name(other.manifest_id)),
        blob_path(drive, names.manifest_name(version.manifest_id)),
    )
    assert_refused_and_audited(drive, node_id, get(drive, node_id))


def test_a_version_row_naming_another_manifest_is_refused(drive: Drive) -> None:
    """The database's chunk list and the manifest must agree (a tampered row is not served)."""
    node_id, version = upload(drive, "a.bin", os.urandom(CHUNK))
    _, other = upload(drive, "b.bin", os.urandom(CHUNK))
    with drive.instance.sessions() as session, session.begin():
        row = session.get(FileVersion, version.id)
        assert row is not None
        row.manifest_id = other.manifest_id
    assert_refused_and_audited(drive, node_id, get(drive, node_id))


@pytest.mark.parametrize("damage", ["missing", "corrupted"])
def test_a_bad_first_chunk_is_refused_before_the_status_line(drive: Drive, damage: str) -> None:
    node_id, version = upload(drive, "a.bin", os.urandom(3 * CHUNK))
    first = chunk_names(version)[0]
    path = blob_path(drive, first)
    if damage == "missing":
        path.unlink()
    else:
        blob = bytearray(path.read_bytes())
        blob[60] ^= 0x01
        path.write_bytes(bytes(blob))
    response = get(drive, node_id)
    assert_refused_and_audited(drive, node_id, response, chunk_id=first.rsplit("/", 1)[1])


def test_a_range_whose_first_chunk_is_missing_is_refused(drive: Drive) -> None:
    """The check is on the first chunk *of the range*; chunks before it are not read."""
    node_id, version = upload(drive, "a.bin", os.urandom(3 * CHUNK))
    blob_path(drive, chunk_names(version)[2]).unlink()
    ok = get(drive, node_id, Range=f"bytes=0-{CHUNK - 1}")
    assert ok.status_code == 206
    response = get(drive, node_id, Range=f"bytes={2 * CHUNK + 5}-")
    assert response.status_code == 500
    assert response.json()["code"] == "integrity_error"
    assert [r.action for r in records(drive, node_id)] == ["file.read", "file.read_failed"]


@pytest.mark.parametrize(
    ("byte_range", "damage"),
    [(None, "missing"), (f"bytes=10-{3 * CHUNK - 1}", "missing"), (None, "corrupted")],
)
def test_a_later_bad_chunk_aborts_the_stream_logs_the_file_and_records_the_failure(
    drive: Drive, caplog: pytest.LogCaptureFixture, byte_range: str | None, damage: str
) -> None:
    """The chunks after the first are read ahead while earlier ones are sent (storage-format
    §11a); a bad one still stops the stream at its place, and is named."""
    node_id, version = upload(drive, "a.bin", os.urandom(8 * CHUNK))
    third = chunk_names(version)[2]
    path = blob_path(drive, third)
    if damage == "missing":
        path.unlink()
    else:  # a flipped ciphertext bit: GCM's tag fails (the HMAC is not what catches it)
        blob = bytearray(path.read_bytes())
        blob[-100] ^= 0x01
        path.write_bytes(bytes(blob))
    headers = {"Range": byte_range} if byte_range else {}
    received = bytearray()
    with (
        caplog.at_level(logging.ERROR, logger="polaris.drive.reads"),
        pytest.raises(StreamAborted),
        drive.client.stream(
            "GET", f"{FILES}/{node_id}/content", headers=drive.headers("hc.a1", **headers)
        ) as response,
    ):
        assert response.status_code == (206 if byte_range else 200)
        for piece in response.iter_bytes():
            received += piece
    assert len(received) < int(response.headers["Content-Length"])
    assert len(received) <= 2 * CHUNK  # nothing of the bad chunk or after it
    read, failed = records(drive, node_id)
    assert read.action == "file.read" and read.reason is None
    assert failed.action == "file.read_failed"
    assert failed.reason == "integrity_error"
    assert failed.id > read.id  # appended after the read (the chain seals them in this order)
    chunk_id = third.rsplit("/", 1)[1]
    assert chunk_id in failed.detail
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"node {node_id} version 1" in logged and chunk_id in logged
    reason = "missing" if damage == "missing" else "authentication failed"
    assert f"chunk {chunk_id}: {reason}" in logged


def test_an_intact_download_is_one_file_read_record(drive: Drive) -> None:
    data = os.urandom(3 * CHUNK + 7)
    node_id, _ = upload(drive, "a.bin", data)
    response = get(drive, node_id)
    assert response.status_code == 200 and response.content == data
    assert [r.action for r in records(drive, node_id)] == ["file.read"]


def test_a_version_row_edited_into_nonsense_is_refused_not_a_crash(drive: Drive) -> None:
    node_id, version = upload(drive, "a.bin", os.urandom(CHUNK))
    with drive.instance.sessions() as session, session.begin():
        row = session.get(FileVersion, version.id)
        assert row is not None
        row.content = {"chunks": [["not-an-id", 5]], "size": 5, "sha256": "0" * 64}
    assert_refused_and_audited(drive, node_id, get(drive, node_id))
