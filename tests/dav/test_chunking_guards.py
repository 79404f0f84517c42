"""Chunked uploads v2 as the newer Nextcloud clients (>= 3.10) send them, and what guards them
(``dav.upload_guards``): WebDAV locks on the destination at the final MOVE, the destination's
ETag in an ``If`` header, and the per-user bounds on uploads in progress (507, a Problem). On
SQLite and on PostgreSQL; the server runs with small bounds."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.dav.conftest import Dav, serving_on

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

ROOT = "/remote.php/dav/files/hc.a1/hc.a1"
UPLOADS = "/remote.php/dav/uploads/hc.a1"
MAX_UPLOADS = 4
MAX_BYTES = 12 * 1024 * 1024
LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    b"<D:owner>another device</D:owner></D:lockinfo>"
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def nc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dav]:
    env = {
        "POLARIS_DAV__MAX_UPLOADS_IN_PROGRESS": str(MAX_UPLOADS),
        "POLARIS_DAV__MAX_UPLOAD_BYTES_IN_PROGRESS": str(MAX_BYTES),
    }
    data_dir = tmp_path_factory.mktemp("guards") / "instance"
    with serving_on(request.param, data_dir, "davguard", env) as running:
        yield running


def _newer_client_upload(
    dav: Dav, transfer: str, target: str, data: bytes, *, chunk: int, extra: dict[str, str]
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """The requests of the desktop client's ``PropagateUploadFileNG`` since 3.10: a MKCOL with
    the ``Destination`` (a percent-encoded path, not a URL) and ``OC-Total-Length``; chunks
    numbered from 1 (zero-padded), each with ``Destination``, ``OC-Total-Length`` and
    ``OC-Chunk-Offset``; the final MOVE with ``OC-Checksum``, ``X-OC-Mtime`` and, to replace a
    file, ``If: <destination> (["etag"])``."""
    folder = f"{UPLOADS}/{transfer}"
    destination = quote(target)
    common = {"Destination": destination, "OC-Total-Length": str(len(data))}
    assert dav.request("MKCOL", folder, headers=common)[0] == 201
    for number, offset in enumerate(range(0, len(data), chunk), start=1):
        status, _, body = dav.request(
            "PUT",
            f"{folder}/{number:05d}",
            body=data[offset : offset + chunk],
            headers={
                **common,
                "OC-Chunk-Offset": str(offset),
                "Content-Type": "application/octet-stream",
                "X-OC-Mtime": "1700000000",
            },
        )
        assert status == 201, body
    status, headers, body = dav.request(
        "MOVE",
        f"{folder}/.file",
        headers={
            **common,
            "Content-Type": "application/octet-stream",
            "X-OC-Mtime": "1700000000",
            "OC-Checksum": "SHA1:" + hashlib.sha1(data, usedforsecurity=False).hexdigest(),
            **extra,
        },
    )
    return status, headers, body


def _etag(dav: Dav, path: str) -> str:
    status, _, body = dav.request("PROPFIND", path, headers={"Depth": "0"})
    assert status == 207
    found = re.search(r'getetag>"?([^"<]+)"?<', body.decode())
    assert found is not None, body
    return found.group(1)


def test_the_newer_clients_upload_and_replace_a_file(nc: Dav) -> None:
    first, second = os.urandom(5 * 1024 * 1024 + 17), os.urandom(5 * 1024 * 1024 + 3)
    target = f"{ROOT}/नई-शैली.bin"
    status, headers, body = _newer_client_upload(
        nc, "1700000001", target, first, chunk=2 * 1024 * 1024, extra={}
    )
    assert status == 201, body
    assert headers["X-OC-MTime"] == "accepted" and headers["OC-FileId"].endswith("ocpolaris")
    assert nc.request("GET", target)[2] == first
    etag = _etag(nc, target)
    assert headers["OC-ETag"].strip('"') == etag

    # Replacing it names the ETag the client saw, in an If header on the destination.
    stale = {"If": f'<{quote(target)}> (["0000stale"])'}
    status, _, body = _newer_client_upload(
        nc, "1700000002", target, second, chunk=2 * 1024 * 1024, extra=stale
    )
    assert status == 412, body
    assert nc.request("GET", target)[2] == first  # nothing stored
    assert nc.request("DELETE", f"{UPLOADS}/1700000002")[0] == 204
    seen = {"If": f'<{quote(target)}> (["{etag}"])'}
    status, _, body = _newer_client_upload(
        nc, "1700000003", target, second, chunk=2 * 1024 * 1024, extra=seen
    )
    assert status == 204, body
    assert nc.request("GET", target)[2] == second


def _lock(dav: Dav, path: str, depth: str = "0") -> str:
    status, headers, body = dav.request(
        "LOCK", path, body=LOCK_BODY, headers={"Depth": depth, "Timeout": "Second-600"}
    )
    assert status in (200, 201), body
    return str(headers["Lock-Token"]).strip("<>")


def test_the_final_move_honours_locks_on_the_destination(nc: Dav) -> None:
    assert nc.request("MKCOL", f"{ROOT}/बंद")[0] == 201
    target = f"{ROOT}/बंद/locked.txt"
    assert nc.request("PUT", target, body=b"old")[0] == 201
    token = _lock(nc, "/dav/hc.a1/बंद/locked.txt")  # taken through the mapped drive's address
    status, _, body = _newer_client_upload(nc, "locked-1", target, b"new", chunk=2, extra={})
    assert status == 423, body
    assert b"no-conflicting-lock" in body
    assert nc.request("GET", target)[2] == b"old"
    status, _, body = nc.request(
        "MOVE",
        f"{UPLOADS}/locked-1/.file",
        headers={"Destination": quote(target), "If": f"(<{token}>)"},
    )
    assert status == 204, body
    assert nc.request("GET", target)[2] == b"new"
    assert nc.request("UNLOCK", target, headers={"Lock-Token": f"<{token}>"})[0] == 204

    # A new file in a folder locked with Depth: infinity.
    folder_token = _lock(nc, f"{ROOT}/बंद", depth="infinity")
    fresh = f"{ROOT}/बंद/fresh.txt"
    status, _, _ = _newer_client_upload(nc, "locked-2", fresh, b"fresh", chunk=3, extra={})
    assert status == 423
    assert nc.request("GET", fresh)[0] == 404
    status, _, body = nc.request(
        "MOVE",
        f"{UPLOADS}/locked-2/.file",
        headers={"Destination": quote(fresh), "If": f"(<{folder_token}>)"},
    )
    assert status == 201, body
    assert nc.request("UNLOCK", f"{ROOT}/बंद", headers={"Lock-Token": f"<{folder_token}>"})[0] == 204


def test_uploads_in_progress_are_bounded_per_user(nc: Dav) -> None:
    started = [f"{UPLOADS}/many-{n}" for n in range(MAX_UPLOADS)]
    for folder in started:
        assert nc.request("MKCOL", folder)[0] == 201
    status, headers, body = nc.request("MKCOL", f"{UPLOADS}/one-too-many")
    assert status == 507
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["code"] == "uploads_in_progress" and problem["limit"] == MAX_UPLOADS
    assert "DELETE" in problem["detail"]
    # Another user is not held up by this one's uploads.
    assert nc.request("MKCOL", "/remote.php/dav/uploads/hc.a2/theirs", user="hc.a2")[0] == 201
    assert nc.request("DELETE", "/remote.php/dav/uploads/hc.a2/theirs", user="hc.a2")[0] == 204
    # Abandoning one frees its place.
    assert nc.request("DELETE", started[0])[0] == 204
    assert nc.request("MKCOL", f"{UPLOADS}/one-too-many")[0] == 201

    # The bytes the chunks of all of them hold are bounded too.
    piece = os.urandom(5 * 1024 * 1024)
    assert nc.request("PUT", f"{started[1]}/1", body=piece)[0] == 201
    assert nc.request("PUT", f"{started[2]}/1", body=piece)[0] == 201
    status, headers, body = nc.request("PUT", f"{started[3]}/1", body=piece)
    assert status == 507 and json.loads(body)["code"] == "upload_bytes_in_progress"
    assert json.loads(body)["limit"] == MAX_BYTES
    assert nc.request("PUT", f"{started[2]}/1", body=piece[:1024])[0] == 201  # replaced: fits
    assert nc.request("PUT", f"{started[3]}/1", body=piece)[0] == 201
    for folder in [*started[1:], f"{UPLOADS}/one-too-many"]:
        assert nc.request("DELETE", folder)[0] == 204
