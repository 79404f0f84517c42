from __future__ import annotations

import hashlib

from tests.drive.conftest import Drive


def test_upload_download_roundtrip(drive: Drive) -> None:
    root = drive.root("hc.a1")
    data = b"x" * 200_000
    node = drive.upload("hc.a1", root, "रिपोर्ट.pdf", data)
    assert node["sha256"] == hashlib.sha256(data).hexdigest()
    response = drive.get("hc.a1", f"/api/v1/files/{node['id']}/content")
    assert response.status_code == 200
    assert response.content == data
