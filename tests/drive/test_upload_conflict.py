"""Uploading a name that exists: refused unless the uploader chose to replace it (a new version)
or to keep both ("name (2).ext"); plain uploads and tus alike."""

from __future__ import annotations

from urllib.parse import unquote

from tests.drive.conftest import Drive
from tests.drive.test_tus import TUS, metadata, patch

API = "/api/v1"


def names(drive: Drive, who: str, folder: int) -> list[str]:
    response = drive.get(who, f"{API}/nodes/{folder}/children")
    return sorted(item["name"] for item in response.json()["items"])


def test_a_taken_name_is_refused_unless_replace_or_keep_both(drive: Drive) -> None:
    root = drive.root("hc.a1")
    first = drive.upload("hc.a1", root, "रिपोर्ट.pdf", b"one")
    params = {"parent_id": root, "name": "रिपोर्ट.pdf"}
    refused = drive.post("hc.a1", f"{API}/files", params=params, content=b"two")
    assert refused.status_code == 409 and refused.json()["code"] == "name_taken"

    kept = drive.post(
        "hc.a1", f"{API}/files", params={**params, "conflict": "rename"}, content=b"two"
    )
    assert kept.status_code == 201 and kept.json()["name"] == "रिपोर्ट (2).pdf"
    again = drive.post(
        "hc.a1", f"{API}/files", params={**params, "conflict": "rename"}, content=b"three"
    )
    assert again.json()["name"] == "रिपोर्ट (3).pdf"

    replaced = drive.post(
        "hc.a1", f"{API}/files", params={**params, "conflict": "replace"}, content=b"four"
    )
    assert replaced.status_code == 200
    assert replaced.json()["id"] == first["id"] and replaced.json()["version"] == 2
    assert names(drive, "hc.a1", root) == ["रिपोर्ट (2).pdf", "रिपोर्ट (3).pdf", "रिपोर्ट.pdf"]
    bad = drive.post("hc.a1", f"{API}/files", params={**params, "conflict": "x"}, content=b"")
    assert bad.status_code == 422


def test_keep_both_numbers_names_without_an_extension(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.upload("hc.a1", root, "README", b"a")
    drive.upload("hc.a1", root, ".profile", b"a")
    for name in ("README", ".profile"):
        kept = drive.post(
            "hc.a1",
            f"{API}/files",
            params={"parent_id": root, "name": name, "conflict": "rename"},
            content=b"b",
        )
        assert kept.status_code == 201, kept.text
    assert {"README (2)", ".profile (2)"} <= set(names(drive, "hc.a1", root))


def test_a_tus_upload_keeps_both_and_says_the_name(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.upload("hc.a1", root, "बयान.txt", b"old")
    refused = drive.post(
        "hc.a1",
        f"{API}/uploads",
        headers={
            **TUS,
            "Upload-Length": "3",
            "Upload-Metadata": metadata(filename="बयान.txt", parent_id=root),
        },
    )
    assert refused.status_code == 409
    created = drive.post(
        "hc.a1",
        f"{API}/uploads",
        headers={
            **TUS,
            "Upload-Length": "3",
            "Upload-Metadata": metadata(filename="बयान.txt", parent_id=root, conflict="rename"),
        },
    )
    assert created.status_code == 201, created.text
    assert unquote(created.headers["Polaris-Name"]) == "बयान (2).txt"
    done = patch(drive, "hc.a1", created.headers["Location"], 0, b"new")
    assert done.status_code == 204, done.text
    assert names(drive, "hc.a1", root) == ["बयान (2).txt", "बयान.txt"]
