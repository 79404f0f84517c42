"""File content over HTTP: upload, overwrite, download with ranges, audit, limits and failures."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import logging
import os
import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx2 as httpx
import pytest
from sqlalchemy import select
from starlette.requests import ClientDisconnect
from starlette.types import Message

from polaris import deps
from polaris.audit.models import AuditRecord
from polaris.db import group_commit, uow
from polaris.drive import api_content
from polaris.drive._http import HANDOFF_BYTES
from polaris.storage import LocalBackend, _fsio, names
from polaris.storage.refs import ContentRef
from polaris.storage.writer import ContentWriter
from tests.drive.conftest import CHUNK, Drive
from tests.support.aio import run_coroutine

FILES = "/api/v1/files"

# Helpers


def post_file(
    drive: Drive,
    who: str,
    parent: int,
    name: str,
    data: bytes | Iterator[bytes],
    *,
    headers: dict[str, str] | None = None,
    **params: object,
) -> httpx.Response:
    response: httpx.Response = drive.post(
        who,
        FILES,
        params={"parent_id": parent, "name": name, **params},
        content=data,
        headers=headers or {},
    )
    return response


def fetch(drive: Drive, who: str, url: str, **headers: str) -> httpx.Response:
    """GET with extra headers (``If_None_Match`` for ``If-None-Match``)."""
    extra = {key.replace("_", "-"): value for key, value in headers.items()}
    return drive.client.get(url, headers=drive.headers(who, **extra))


def code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["code"])


def names_in(drive: Drive, who: str, folder: int) -> list[str]:
    response = drive.get(who, f"/api/v1/nodes/{folder}/children")
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def used_bytes(drive: Drive, who: str) -> int:
    return drive.used_bytes(who)


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


def all_audit_actions(drive: Drive) -> list[str]:
    with drive.instance.sessions() as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all())


def blob_root(drive: Drive) -> Path:
    backend = drive.instance.blobs.backend
    assert isinstance(backend, LocalBackend)
    return backend.root


def chunk_files(drive: Drive) -> list[Path]:
    return sorted(p for p in (blob_root(drive) / names.CHUNKS).rglob("*") if p.is_file())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Upload and download


def test_upload_answers_with_the_node_and_its_digests(drive: Drive) -> None:
    root = drive.root("hc.a1")
    data = os.urandom(1000)
    response = post_file(drive, "hc.a1", root, "notes.txt", data)
    assert response.status_code == 201, response.text
    node = response.json()
    assert node["kind"] == "file"
    assert node["name"] == "notes.txt"
    assert node["parent_id"] == root
    assert node["size"] == len(data)
    assert node["sha256"] == sha256(data)
    assert node["version"] == 1
    assert node["etag"]
    assert response.headers["ETag"] == f'"{node["etag"]}"'
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert response.headers["Repr-Digest"] == f"sha-256=:{digest}:"

    download = drive.get("hc.a1", f"{FILES}/{node['id']}/content")
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["ETag"] == response.headers["ETag"]
    assert download.headers["Content-Length"] == str(len(data))
    assert names_in(drive, "hc.a1", root) == ["notes.txt"]


def test_sizes_around_a_chunk_come_back_identical(drive: Drive) -> None:
    root = drive.root("hc.a1")
    for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]:
        data = os.urandom(size)
        node = drive.upload("hc.a1", root, f"f{size}.bin", data)
        assert (node["size"], node["sha256"]) == (size, sha256(data))
        download = drive.get("hc.a1", f"{FILES}/{node['id']}/content")
        assert download.status_code == 200, size
        assert download.content == data, size


def test_identical_content_is_stored_once(drive: Drive) -> None:
    root = drive.root("hc.a1")
    data = os.urandom(2 * CHUNK + 100)
    before = chunk_files(drive)
    first = drive.upload("hc.a1", root, "one.bin", data)
    after_first = chunk_files(drive)
    assert len(after_first) == len(before) + 3
    second = drive.upload("hc.a1", root, "two.bin", data)
    assert chunk_files(drive) == after_first
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    assert drive.get("hc.a1", f"{FILES}/{second['id']}/content").content == data


def test_names_are_stored_in_nfc(drive: Drive) -> None:
    root = drive.root("hc.a1")
    composed = unicodedata.normalize("NFC", "कॉपी café.txt")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    node = drive.upload("hc.a1", root, decomposed, b"x")
    assert node["name"] == composed
    again = post_file(drive, "hc.a1", root, composed, b"y")
    assert again.status_code == 409
    assert code(again) == "name_taken"


# Overwrite and preconditions


def test_a_taken_name_is_refused_unless_overwrite(drive: Drive) -> None:
    root = drive.root("hc.a1")
    first = drive.upload("hc.a1", root, "report.txt", b"first")
    refused = post_file(drive, "hc.a1", root, "report.txt", b"second")
    assert refused.status_code == 409
    assert code(refused) == "name_taken"
    assert drive.get("hc.a1", f"{FILES}/{first['id']}/content").content == b"first"

    replaced = post_file(drive, "hc.a1", root, "report.txt", b"second", overwrite="true")
    assert replaced.status_code == 200, replaced.text
    node = replaced.json()
    assert node["id"] == first["id"]
    assert node["version"] == 2
    assert node["sha256"] == sha256(b"second")
    assert node["etag"] != first["etag"]
    assert drive.get("hc.a1", f"{FILES}/{first['id']}/content").content == b"second"
    assert names_in(drive, "hc.a1", root) == ["report.txt"]


def test_overwrite_a_folder_is_refused(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.folder("hc.a1", root, "Cases")
    response = post_file(drive, "hc.a1", root, "Cases", b"x", overwrite="true")
    assert response.status_code == 409
    assert code(response) == "name_taken"


def test_overwrite_with_the_current_etag_succeeds(drive: Drive) -> None:
    root = drive.root("hc.a1")
    first = drive.upload("hc.a1", root, "a.txt", b"one")
    response = post_file(
        drive,
        "hc.a1",
        root,
        "a.txt",
        b"two",
        overwrite="true",
        headers={"If-Match": f'"{first["etag"]}"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


def test_overwrite_with_a_stale_etag_changes_nothing(drive: Drive) -> None:
    root = drive.root("hc.a1")
    first = drive.upload("hc.a1", root, "a.txt", b"one")
    drive.upload("hc.a1", root, "a.txt", b"two", overwrite="true")
    before = versions(drive, "hc.a1", first["id"])
    used = used_bytes(drive, "hc.a1")
    stale = post_file(
        drive,
        "hc.a1",
        root,
        "a.txt",
        b"three",
        overwrite="true",
        headers={"If-Match": f'"{first["etag"]}"'},
    )
    assert stale.status_code == 412
    assert code(stale) == "etag_mismatch"
    assert versions(drive, "hc.a1", first["id"]) == before
    assert drive.get("hc.a1", f"{FILES}/{first['id']}/content").content == b"two"
    assert used_bytes(drive, "hc.a1") == used


def test_if_match_on_a_name_that_does_not_exist_fails_the_precondition(drive: Drive) -> None:
    """RFC 9110 §13.1.1: If-Match with a tag is false when there is no current representation."""
    root = drive.root("hc.a1")
    response = post_file(drive, "hc.a1", root, "new.txt", b"x", headers={"If-Match": '"abc"'})
    assert response.status_code == 412
    assert code(response) == "etag_mismatch"
    assert names_in(drive, "hc.a1", root) == []


def test_put_content_makes_a_new_version(drive: Drive) -> None:
    root = drive.root("hc.a1")
    first = drive.upload("hc.a1", root, "doc.txt", b"v1")
    url = f"{FILES}/{first['id']}/content"
    response = drive.put("hc.a1", url, content=b"v2")
    assert response.status_code == 200, response.text
    node = response.json()
    assert node["version"] == 2
    assert node["sha256"] == sha256(b"v2")
    assert response.headers["ETag"] == f'"{node["etag"]}"'
    assert drive.get("hc.a1", url).content == b"v2"

    current = drive.put("hc.a1", url, content=b"v3", headers={"If-Match": f'"{node["etag"]}"'})
    assert current.status_code == 200, current.text
    assert current.json()["version"] == 3

    stale = drive.put("hc.a1", url, content=b"v4", headers={"If-Match": f'"{node["etag"]}"'})
    assert stale.status_code == 412
    assert code(stale) == "etag_mismatch"
    assert drive.get("hc.a1", url).content == b"v3"
    assert [v["number"] for v in versions(drive, "hc.a1", first["id"])] == [3, 2, 1]


def test_put_content_on_a_folder_is_refused(drive: Drive) -> None:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "Cases")
    response = drive.put("hc.a1", f"{FILES}/{folder['id']}/content", content=b"x")
    assert response.status_code == 409
    assert code(response) == "not_a_file"


# Ranges and conditional requests


@pytest.fixture
def thousand(drive: Drive) -> tuple[int, bytes]:
    """A 1000-byte file of hc.a1's: (id, content)."""
    data = os.urandom(1000)
    node = drive.upload("hc.a1", drive.root("hc.a1"), "data.bin", data)
    return int(node["id"]), data


SINGLE_RANGES = [
    ("bytes=10-19", 10, 20),
    ("bytes=-5", 995, 1000),
    ("bytes=100-", 100, 1000),
    ("bytes=0-0", 0, 1),
    ("bytes=990-5000", 990, 1000),
]


def test_a_single_range_is_a_206_with_exactly_those_bytes(
    drive: Drive, thousand: tuple[int, bytes]
) -> None:
    node_id, data = thousand
    for header, start, end in SINGLE_RANGES:
        response = fetch(drive, "hc.a1", f"{FILES}/{node_id}/content", Range=header)
        assert response.status_code == 206, header
        assert response.content == data[start:end], header
        assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/1000"
        assert response.headers["Content-Length"] == str(end - start)
        assert response.headers["Accept-Ranges"] == "bytes"


def test_a_range_past_the_end_is_416(drive: Drive, thousand: tuple[int, bytes]) -> None:
    node_id, _ = thousand
    for header in ["bytes=1000-", "bytes=5000-6000"]:
        response = fetch(drive, "hc.a1", f"{FILES}/{node_id}/content", Range=header)
        assert response.status_code == 416, header
        assert code(response) == "range_not_satisfiable"


def test_a_416_names_the_current_length(drive: Drive, thousand: tuple[int, bytes]) -> None:
    """RFC 9110 §15.5.17: a 416 to a byte range should carry ``Content-Range: bytes */<length>``."""
    node_id, _ = thousand
    response = fetch(drive, "hc.a1", f"{FILES}/{node_id}/content", Range="bytes=1000-")
    assert response.status_code == 416
    assert response.headers.get("Content-Range") == "bytes */1000"


def test_several_or_unknown_ranges_get_everything(
    drive: Drive, thousand: tuple[int, bytes]
) -> None:
    node_id, data = thousand
    for header in ["bytes=0-9,20-29", "bytes=abc", "lines=1-2"]:
        response = fetch(drive, "hc.a1", f"{FILES}/{node_id}/content", Range=header)
        assert response.status_code == 200, header
        assert response.content == data
        assert "Content-Range" not in response.headers


def test_a_suffix_range_of_an_empty_file_is_the_empty_file(drive: Drive) -> None:
    node = drive.upload("hc.a1", drive.root("hc.a1"), "empty.txt", b"")
    response = fetch(drive, "hc.a1", f"{FILES}/{node['id']}/content", Range="bytes=-5")
    assert response.content == b""
    assert response.status_code == 200, response.headers.get("Content-Range")


def test_if_none_match_with_the_etag_is_304_without_a_body(
    drive: Drive, thousand: tuple[int, bytes]
) -> None:
    node_id, data = thousand
    url = f"{FILES}/{node_id}/content"
    etag = drive.get("hc.a1", url).headers["ETag"]
    not_modified = fetch(drive, "hc.a1", url, If_None_Match=etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    other = fetch(drive, "hc.a1", url, If_None_Match='"something-else"')
    assert other.status_code == 200
    assert other.content == data


def test_a_changed_file_is_sent_again_despite_the_old_etag(
    drive: Drive, thousand: tuple[int, bytes]
) -> None:
    node_id, _ = thousand
    url = f"{FILES}/{node_id}/content"
    etag = drive.get("hc.a1", url).headers["ETag"]
    assert drive.put("hc.a1", url, content=b"changed").status_code == 200
    response = fetch(drive, "hc.a1", url, If_None_Match=etag)
    assert response.status_code == 200
    assert response.content == b"changed"


def test_download_headers_make_it_an_attachment_with_the_exact_name(drive: Drive) -> None:
    name = unicodedata.normalize("NFC", "प्राथमिकी रिपोर्ट 12-2026.pdf")
    node = drive.upload("hc.a1", drive.root("hc.a1"), name, b"%PDF-1.7 not really")
    response = drive.get("hc.a1", f"{FILES}/{node['id']}/content")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert disposition.isascii()
    marker = "filename*=UTF-8''"
    assert marker in disposition
    encoded = disposition.split(marker, 1)[1].split(";", 1)[0]
    assert unquote(encoded, encoding="utf-8", errors="strict") == name
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"].startswith("application/pdf")
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_a_range_read_touches_only_the_chunks_it_needs(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(5 * CHUNK)
    node = drive.upload("hc.a1", drive.root("hc.a1"), "five.bin", data)
    blobs = drive.instance.blobs
    real = blobs.read_chunk
    read: list[str] = []

    def counting_read_chunk(cid: str, *, expected_size: int | None = None) -> bytes:
        read.append(cid)
        return real(cid, expected_size=expected_size)

    monkeypatch.setattr(blobs, "read_chunk", counting_read_chunk)
    url = f"{FILES}/{node['id']}/content"
    start = 2 * CHUNK + 100
    inside = fetch(drive, "hc.a1", url, Range=f"bytes={start}-{start + 999}")
    assert inside.status_code == 206
    assert inside.content == data[start : start + 1000]
    assert len(read) == 1

    read.clear()
    across = fetch(drive, "hc.a1", url, Range=f"bytes={3 * CHUNK - 10}-{3 * CHUNK + 9}")
    assert across.status_code == 206
    assert across.content == data[3 * CHUNK - 10 : 3 * CHUNK + 10]
    assert len(read) == 2


# Audit


def test_every_download_is_audited_with_the_version_hash(
    drive: Drive, thousand: tuple[int, bytes]
) -> None:
    node_id, data = thousand
    url = f"{FILES}/{node_id}/content"
    assert audit_records(drive, "file.read", node_id) == []
    assert drive.get("hc.a1", url).status_code == 200
    assert fetch(drive, "hc.a1", url, Range="bytes=10-19").status_code == 206
    records = audit_records(drive, "file.read", node_id)
    assert len(records) == 2
    for record in records:
        assert record.version_hash == sha256(data)
        assert record.decision == "allow"
        assert record.object_type == "node"
        assert record.actor_id == str(drive.user_ids["hc.a1"])


def test_upload_and_overwrite_are_audited(drive: Drive) -> None:
    root = drive.root("hc.a1")
    node = drive.upload("hc.a1", root, "a.txt", b"one")
    created = audit_records(drive, "file.create", node["id"])
    assert len(created) == 1
    assert created[0].version_hash == sha256(b"one")
    assert created[0].decision == "allow"
    drive.upload("hc.a1", root, "a.txt", b"two", overwrite="true")
    written = audit_records(drive, "file.write", node["id"])
    assert [r.version_hash for r in written] == [sha256(b"two")]


def test_someone_else_cannot_read_or_write_and_it_is_audited(
    drive: Drive, thousand: tuple[int, bytes]
) -> None:
    node_id, data = thousand
    url = f"{FILES}/{node_id}/content"
    read = drive.get("hc.b1", url)
    assert read.status_code == 404
    assert drive.put("hc.b1", url, content=b"mine now").status_code == 404
    upload = post_file(drive, "hc.b1", drive.root("hc.a1"), "planted.txt", b"x")
    assert upload.status_code == 404
    assert drive.get("hc.a1", url).content == data
    assert names_in(drive, "hc.a1", drive.root("hc.a1")) == ["data.bin"]
    with drive.instance.sessions() as session:
        denied = session.scalars(
            select(AuditRecord).where(
                AuditRecord.decision == "deny",
                AuditRecord.actor_id == str(drive.user_ids["hc.b1"]),
            )
        ).all()
    assert len(denied) == 3
    reads = audit_records(drive, "file.read", node_id)
    assert [r.actor_id for r in reads] == [str(drive.user_ids["hc.a1"])]


# Quota, size limit, full disk


def set_quota(drive: Drive, space_id: int, quota: int | None) -> None:
    response = drive.put(
        "admin", f"/api/v1/admin/spaces/{space_id}/quota", json={"quota_bytes": quota}
    )
    assert response.status_code == 200, response.text
    assert response.json()["quota_bytes"] == quota


def test_quota_refuses_an_upload_that_would_exceed_it(drive: Drive) -> None:
    root = drive.root("hc.a1")
    drive.upload("hc.a1", root, "existing.bin", b"x" * 300)
    space = drive.space("hc.a1")
    used = drive.used_bytes("hc.a1")
    assert used == 300
    set_quota(drive, int(space["id"]), used + 100)  # type: ignore[call-overload]

    refused = post_file(drive, "hc.a1", root, "big.bin", os.urandom(101))
    assert refused.status_code == 507
    assert code(refused) == "quota_exceeded"
    assert names_in(drive, "hc.a1", root) == ["existing.bin"]
    assert used_bytes(drive, "hc.a1") == used

    fits = post_file(drive, "hc.a1", root, "fits.bin", os.urandom(100))
    assert fits.status_code == 201, fits.text
    assert used_bytes(drive, "hc.a1") == used + 100
    assert sorted(names_in(drive, "hc.a1", root)) == ["existing.bin", "fits.bin"]


def test_quota_is_enforced_when_the_length_is_not_announced(drive: Drive) -> None:
    root = drive.root("hc.a1")
    space = drive.space("hc.a1")
    set_quota(drive, int(space["id"]), 1000)  # type: ignore[call-overload]
    # A generator body goes out chunked, without Content-Length: only the commit can refuse it.
    refused = post_file(drive, "hc.a1", root, "streamed.bin", iter([b"a" * 600, b"b" * 600]))
    assert refused.status_code == 507
    assert code(refused) == "quota_exceeded"
    assert names_in(drive, "hc.a1", root) == []
    assert used_bytes(drive, "hc.a1") == 0
    assert all_audit_actions(drive).count("file.create") == 0


def test_quota_counts_a_new_version(drive: Drive) -> None:
    root = drive.root("hc.a1")
    node = drive.upload("hc.a1", root, "a.bin", b"x" * 600)
    set_quota(drive, int(drive.space("hc.a1")["id"]), 1000)  # type: ignore[call-overload]
    refused = post_file(drive, "hc.a1", root, "a.bin", b"y" * 600, overwrite="true")
    assert refused.status_code == 507
    assert code(refused) == "quota_exceeded"
    assert len(versions(drive, "hc.a1", node["id"])) == 1
    assert drive.get("hc.a1", f"{FILES}/{node['id']}/content").content == b"x" * 600


def test_a_file_over_the_size_limit_is_413_and_nothing_is_created(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = drive.root("hc.a1")
    monkeypatch.setattr(drive.instance.settings.drive, "max_file_bytes", 1000)
    announced = post_file(drive, "hc.a1", root, "big.bin", os.urandom(1001))
    assert announced.status_code == 413
    assert code(announced) == "file_too_large"
    streamed = post_file(drive, "hc.a1", root, "big.bin", iter([b"a" * 700, b"b" * 301]))
    assert streamed.status_code == 413
    assert code(streamed) == "file_too_large"
    assert names_in(drive, "hc.a1", root) == []
    assert used_bytes(drive, "hc.a1") == 0

    exact = post_file(drive, "hc.a1", root, "exact.bin", os.urandom(1000))
    assert exact.status_code == 201, exact.text


def _disk_full(fd: int, data: bytes) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_507_and_the_upload_works_once_there_is_room(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = drive.root("hc.a1")
    data = os.urandom(2 * CHUNK + 7)
    before = chunk_files(drive)
    with monkeypatch.context() as fault:
        fault.setattr(_fsio, "write_all", _disk_full)
        response = post_file(drive, "hc.a1", root, "full.bin", data)
    assert response.status_code == 507
    assert code(response) == "storage_full"
    assert names_in(drive, "hc.a1", root) == []
    assert used_bytes(drive, "hc.a1") == 0
    assert chunk_files(drive) == before
    assert list((blob_root(drive) / "tmp").iterdir()) == []

    again = post_file(drive, "hc.a1", root, "full.bin", data)
    assert again.status_code == 201, again.text
    assert drive.get("hc.a1", f"{FILES}/{again.json()['id']}/content").content == data


def test_a_full_disk_while_writing_the_manifest_records_nothing(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = drive.root("hc.a1")
    data = os.urandom(CHUNK + 1)
    drive.upload("hc.a1", root, "first.bin", data)
    used = used_bytes(drive, "hc.a1")
    with monkeypatch.context() as fault:
        # The chunks exist already (dedup), so the first write is the new version's manifest.
        fault.setattr(_fsio, "write_all", _disk_full)
        response = post_file(drive, "hc.a1", root, "second.bin", data)
    assert response.status_code == 507
    assert code(response) == "storage_full"
    assert names_in(drive, "hc.a1", root) == ["first.bin"]
    assert used_bytes(drive, "hc.a1") == used
    assert post_file(drive, "hc.a1", root, "second.bin", data).status_code == 201


# Races and disconnects


def serialise_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run one unit of work at a time: the test's sessions share one database connection.

    The transfer between the two transactions of an upload still overlaps freely, which is the
    window in which two uploads of one name race.
    """
    lock = threading.RLock()
    real = uow.transaction

    @contextlib.contextmanager
    def locked(session: Any, **options: bool) -> Iterator[Any]:
        with lock, real(session, **options) as inner:
            yield inner

    monkeypatch.setattr(api_content, "transaction", locked)
    monkeypatch.setattr(deps, "transaction", locked)
    monkeypatch.setattr(group_commit, "transaction", locked)  # the uploads' write transactions


def hold_commits_until_both_stored(drive: Drive, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each upload wait, content stored, until the other has stored its content too."""
    both_stored = threading.Barrier(2, timeout=60)
    real_writer = drive.instance.blobs.writer

    def writer(*, limit: int | None = None) -> ContentWriter:
        made = real_writer(limit=limit)
        real_finish = made.finish

        def finish() -> ContentRef:
            stored = real_finish()
            both_stored.wait()
            return stored

        made.finish = finish  # type: ignore[method-assign]
        return made

    monkeypatch.setattr(drive.instance.blobs, "writer", writer)


def race(drive: Drive, root: int, bodies: list[bytes], **params: object) -> list[httpx.Response]:
    start = threading.Barrier(len(bodies), timeout=60)

    def send(body: bytes) -> httpx.Response:
        start.wait()
        return post_file(drive, "hc.a1", root, "same.bin", body, **params)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_two_uploads_of_one_new_name_one_wins_whole(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = drive.root("hc.a1")
    bodies = [os.urandom(CHUNK + 11), os.urandom(CHUNK + 11)]
    serialise_transactions(monkeypatch)
    hold_commits_until_both_stored(drive, monkeypatch)
    responses = race(drive, root, bodies)
    assert sorted(r.status_code for r in responses) == [201, 409]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 201)
    loser = responses[1 - winner]
    assert code(loser) == "name_taken"
    node = responses[winner].json()
    assert names_in(drive, "hc.a1", root) == ["same.bin"]
    assert drive.get("hc.a1", f"{FILES}/{node['id']}/content").content == bodies[winner]
    assert len(versions(drive, "hc.a1", node["id"])) == 1
    assert used_bytes(drive, "hc.a1") == len(bodies[winner])


def test_two_overwriting_uploads_of_one_new_name_make_two_whole_versions(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = drive.root("hc.a1")
    bodies = [os.urandom(CHUNK + 11), os.urandom(CHUNK + 11)]
    serialise_transactions(monkeypatch)
    hold_commits_until_both_stored(drive, monkeypatch)
    responses = race(drive, root, bodies, overwrite="true")
    assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
    first = next(i for i, r in enumerate(responses) if r.status_code == 201)
    second = 1 - first
    node_id = responses[first].json()["id"]
    assert responses[second].json()["id"] == node_id
    assert names_in(drive, "hc.a1", root) == ["same.bin"]
    assert drive.get("hc.a1", f"{FILES}/{node_id}/content").content == bodies[second]
    listed = versions(drive, "hc.a1", node_id)
    assert [v["sha256"] for v in listed] == [sha256(bodies[second]), sha256(bodies[first])]


async def _upload_then_disconnect(
    drive: Drive, parent: int, name: str, piece: bytes, announced: int
) -> list[Message]:
    sent: list[Message] = []
    messages: list[Message] = [{"type": "http.request", "body": piece, "more_body": True}]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    query = httpx.QueryParams({"parent_id": parent, "name": name})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": FILES,
        "raw_path": FILES.encode(),
        "root_path": "",
        "query_string": str(query).encode(),
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {drive.tokens['hc.a1']}".encode()),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(announced).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    with contextlib.suppress(ClientDisconnect):
        await drive.client.app(scope, receive, send)  # type: ignore[arg-type]
    return sent


def test_a_client_that_disconnects_leaves_no_file(drive: Drive) -> None:
    root = drive.root("hc.a1")
    used = used_bytes(drive, "hc.a1")
    # More than one hand-off to storage, so some chunks are stored before the client goes away.
    piece = os.urandom(HANDOFF_BYTES + CHUNK)
    before = chunk_files(drive)
    sent = run_coroutine(_upload_then_disconnect(drive, root, "gone.bin", piece, 4 * len(piece)))
    assert len(chunk_files(drive)) > len(before)  # the transfer really had started
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert all(status >= 400 for status in statuses)
    assert names_in(drive, "hc.a1", root) == []
    assert used_bytes(drive, "hc.a1") == used
    assert "file.create" not in all_audit_actions(drive)


# Bad input


def test_a_bad_name_is_422(drive: Drive) -> None:
    root = drive.root("hc.a1")
    for name in ["a/b.txt", "..", "", "tab\there.txt", "x" * 256, "rtl\u202etxt.exe"]:
        response = post_file(drive, "hc.a1", root, name, b"x")
        assert response.status_code == 422, name
    assert names_in(drive, "hc.a1", root) == []


def test_a_file_as_parent_is_409(drive: Drive) -> None:
    root = drive.root("hc.a1")
    node = drive.upload("hc.a1", root, "a.txt", b"x")
    response = post_file(drive, "hc.a1", node["id"], "b.txt", b"y")
    assert response.status_code == 409
    assert code(response) == "not_a_folder"
    assert names_in(drive, "hc.a1", root) == ["a.txt"]


def test_a_missing_parent_is_404(drive: Drive) -> None:
    response = post_file(drive, "hc.a1", 987_654_321, "a.txt", b"x")
    assert response.status_code == 404
    assert code(response) == "not_found"


def test_a_folder_has_no_content(drive: Drive) -> None:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "Cases")
    response = drive.get("hc.a1", f"{FILES}/{folder['id']}/content")
    assert response.status_code == 409
    assert code(response) == "not_a_file"
    versions_of_folder = drive.get("hc.a1", f"{FILES}/{folder['id']}/versions")
    assert versions_of_folder.status_code == 409
    assert code(versions_of_folder) == "not_a_file"


def test_a_missing_file_is_404(drive: Drive) -> None:
    response = drive.get("hc.a1", f"{FILES}/987654321/content")
    assert response.status_code == 404


def test_a_client_disconnect_is_not_logged_as_an_unhandled_error(
    drive: Drive, caplog: pytest.LogCaptureFixture
) -> None:
    """A client going away is routine, not a bug: no "unhandled error" traceback, no 500."""
    root = drive.root("hc.a1")
    piece = os.urandom(CHUNK)
    with caplog.at_level(logging.INFO):
        sent = run_coroutine(
            _upload_then_disconnect(drive, root, "gone.bin", piece, 4 * len(piece))
        )
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert all(400 <= status < 500 for status in statuses), statuses
