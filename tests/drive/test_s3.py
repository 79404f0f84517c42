"""The drive on the S3 backend (a real SeaweedFS): the store stopped in the middle of an upload,
and an object deleted in the bucket behind Polaris's back.

A stopped store is a 503 ``storage_failure`` problem (the log names the endpoint, the client
gets plain words); every byte the server had acknowledged is still there once the store is back,
and the upload resumes where the server says it stands.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from polaris.config import S3Settings
from polaris.drive.models import FileVersion
from polaris.storage import names
from polaris.storage.refs import ContentRef
from polaris.storage.s3 import S3Backend
from tests.drive.conftest import CHUNK, Drive, drive_on
from tests.drive.test_tus import TUS, create, offset_of, patch
from tests.support.seaweedfs import SeaweedFS

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

PROBLEM = "application/problem+json"


@pytest.fixture
def s3_drive(engine: Engine, tmp_path: Path, s3_settings: S3Settings) -> Iterator[Drive]:
    yield from drive_on(engine, tmp_path, S3Backend(s3_settings))


@pytest.fixture
def restarted(seaweedfs: SeaweedFS) -> Iterator[SeaweedFS]:
    """The session's SeaweedFS, for a test that kills it: running again afterwards, whatever
    the test did."""
    try:
        yield seaweedfs
    finally:
        if not seaweedfs.running:
            seaweedfs.start()


def assert_storage_failure(response, caplog: pytest.LogCaptureFixture, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "storage_failure"
    assert body["detail"] == "the server could not store the data; nothing was saved"
    assert endpoint not in response.text  # the store's address is for the log only
    logged = [r.getMessage() for r in caplog.records if r.name == "polaris.web"]
    assert any(endpoint in message and "could not connect" in message for message in logged), logged


@pytest.mark.slow  # restarts SeaweedFS
def test_store_stopped_mid_tus_upload_then_resumed(
    s3_drive: Drive, restarted: SeaweedFS, caplog: pytest.LogCaptureFixture
) -> None:
    drive = s3_drive
    root = drive.root("hc.a1")
    data = os.urandom(4 * CHUNK + 99)
    url = create(drive, "hc.a1", len(data), filename="fir.pdf", parent_id=root)
    first = patch(drive, "hc.a1", url, 0, data[: CHUNK + 10])
    assert first.status_code == 204, first.text
    acknowledged = int(first.headers["Upload-Offset"])
    assert acknowledged == CHUNK + 10

    def body() -> Iterator[bytes]:
        """The next part, the store killed once its first chunk has been handed over."""
        yield data[acknowledged : 2 * CHUNK + 5]
        restarted.kill()
        yield data[2 * CHUNK + 5 : 3 * CHUNK]

    with caplog.at_level(logging.ERROR, logger="polaris.web"):
        failed = drive.patch(
            "hc.a1",
            url,
            content=body(),
            headers={
                **TUS,
                "Upload-Offset": str(acknowledged),
                "Content-Type": "application/offset+octet-stream",
            },
        )
    assert_storage_failure(failed, caplog, restarted.endpoint)
    assert failed.headers["Tus-Resumable"] == "1.0.0"

    restarted.start()
    # The server still knows the upload; nothing it acknowledged is lost, and it never claims
    # more than it stored.
    offset = offset_of(drive, "hc.a1", url)
    assert acknowledged <= offset <= 3 * CHUNK
    resumed = patch(drive, "hc.a1", url, offset, data[offset:])
    assert resumed.status_code == 204, resumed.text
    assert resumed.headers["Upload-Offset"] == str(len(data))
    node_id = int(resumed.headers["Polaris-Node-Id"])
    download = drive.get("hc.a1", f"/api/v1/files/{node_id}/content")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(data).digest()


@pytest.mark.slow  # restarts SeaweedFS
def test_store_stopped_before_a_plain_upload(
    s3_drive: Drive, restarted: SeaweedFS, caplog: pytest.LogCaptureFixture
) -> None:
    drive = s3_drive
    root = drive.root("hc.a1")
    restarted.kill()
    with caplog.at_level(logging.ERROR, logger="polaris.web"):
        response = drive.post(
            "hc.a1",
            "/api/v1/files",
            params={"parent_id": root, "name": "a.bin"},
            content=os.urandom(2 * CHUNK),
        )
    assert_storage_failure(response, caplog, restarted.endpoint)
    restarted.start()
    listing = drive.get("hc.a1", f"/api/v1/nodes/{root}/children").json()
    assert listing["items"] == []  # nothing half-made is visible
    node = drive.upload("hc.a1", root, "a.bin", b"after the restart")
    download = drive.get("hc.a1", f"/api/v1/files/{node['id']}/content")
    assert download.status_code == 200 and download.content == b"after the restart"


def test_an_object_deleted_in_the_bucket_is_never_served_as_200(
    s3_drive: Drive, seaweedfs: SeaweedFS, s3_settings: S3Settings
) -> None:
    """The first chunk is read before the status line (drive/reads.py): its loss is a 500
    problem, never a 200 with a body cut short; a range without it is still served."""
    drive = s3_drive
    data = os.urandom(3 * CHUNK)
    node = drive.upload("hc.a1", drive.root("hc.a1"), "case.pdf", data)
    with drive.instance.sessions() as session:
        version = session.scalars(
            select(FileVersion).where(FileVersion.node_id == node["id"])
        ).one()
    chunks = ContentRef.from_dict(version.content).chunks
    lost = names.chunk_name(chunks[0].chunk_id)
    seaweedfs.delete_key(f"{s3_settings.prefix}/{lost}")
    url = f"/api/v1/files/{node['id']}/content"
    response = drive.get("hc.a1", url)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "integrity_error"
    assert "content-disposition" not in response.headers
    rest = drive.client.get(url, headers=drive.headers("hc.a1", Range=f"bytes={CHUNK}-"))
    assert rest.status_code == 206 and rest.content == data[CHUNK:]
    report = drive.instance.blobs.verify()
    assert not report.ok
    assert [f.reason for f in report.findings] == [f"references missing chunk {chunks[0].chunk_id}"]
