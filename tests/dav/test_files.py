"""Files over WebDAV: names, empty and large files, ETags, dates, quotas, and the refusals."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from polaris.audit.models import AuditRecord
from polaris.db.uow import transaction
from polaris.drive import spaces
from polaris.drive.models import FileVersion, Node, Space
from polaris.incident import service as incident
from polaris.storage import LocalBackend, names
from polaris.storage.refs import ContentRef
from tests.dav.conftest import UNIT_A1, Dav
from tests.factories import SYSTEM
from tests.live_server import wait_for

HINDI = "प्राथमिकी १२-२०२६ (ज़ब्ती).txt"
MiB = 1024 * 1024
QUOTA_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:quota-used-bytes/><D:quota-available-bytes/></D:prop></D:propfind>"
)


def _prop(listing: str, name: str) -> list[str]:
    return re.findall(rf"<D:{name}>([^<]*)</D:{name}>", listing)


def test_options_at_the_server_root_answer_without_credentials(dav: Dav) -> None:
    status, headers, _ = dav.server.request("OPTIONS", "/")
    assert status == 200
    assert headers["DAV"] == "1, 2" and headers["MS-Author-Via"] == "DAV"
    status, headers, _ = dav.request("OPTIONS", "/dav/hc.a1/")
    assert status == 200 and "2" in headers["DAV"]
    status, headers, _ = dav.server.request("OPTIONS", "/dav/")
    assert status == 200 and headers["DAV"] == "1, 2"


def test_the_address_without_its_slash_is_served_not_redirected(dav: Dav) -> None:
    """Windows' client does not follow a redirect of PROPFIND."""
    assert dav.propfind("/dav", depth="0")[0] == 207
    assert dav.propfind("/remote.php/dav/files/hc.a1", depth="0")[0] == 207


@pytest.mark.parametrize("depth", ["infinity", "Infinity", None])
def test_propfind_of_infinite_depth_is_refused(dav: Dav, depth: str | None) -> None:
    headers = {} if depth is None else {"Depth": depth}
    status, _, body = dav.request("PROPFIND", "/dav/hc.a1/", headers=headers)
    assert status == 403
    assert b"propfind-finite-depth" in body


def test_an_empty_file_is_stored_and_read(dav: Dav) -> None:
    status, headers, _ = dav.request("PUT", "/dav/hc.a1/empty.txt", body=b"")
    assert status == 201 and headers["ETag"]
    status, _, body = dav.request("GET", "/dav/hc.a1/empty.txt")
    assert (status, body) == (200, b"")
    status, listing = dav.propfind("/dav/hc.a1/empty.txt", depth="0")
    assert status == 207 and _prop(listing, "getcontentlength") == ["0"]


def test_a_hindi_name_is_stored_listed_and_read(dav: Dav) -> None:
    content = "धारा 379 के अंतर्गत".encode()
    assert dav.request("PUT", f"/dav/hc.a1/{HINDI}", body=content)[0] == 201
    status, _, body = dav.request("GET", f"/dav/hc.a1/{HINDI}")
    assert (status, body) == (200, content)
    status, listing = dav.propfind("/dav/hc.a1/")
    assert status == 207 and HINDI in _prop(listing, "displayname")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a\x00b.txt", b"name_invalid"),
        ("report\u202etxt.exe", b"U+202E"),
        ("report\ufffe.txt", b"U+FFFE"),  # no XML can hold it: a listing would fail
        ("back\\slash.txt", b"name_invalid"),
        ("x" * 256, b"name_too_long"),
    ],
)
def test_a_name_the_drive_refuses_is_a_clear_400(dav: Dav, name: str, why: bytes) -> None:
    status, _, body = dav.request("PUT", f"/dav/hc.a1/{name}", body=b"data")
    assert status == 400 and why in body
    status, _, body = dav.request("MKCOL", f"/dav/hc.a1/{name}")
    assert status == 400 and why in body
    assert dav.request("GET", f"/dav/hc.a1/{name}")[0] == 404


def test_a_slash_inside_a_name_is_a_folder_that_does_not_exist(dav: Dav) -> None:
    status, _, _ = dav.server.request(
        "PUT",
        "/dav/hc.a1/nowhere%2Fx.txt",
        body=b"data",
        headers={"Authorization": _basic(dav)},
    )
    assert status == 409


def _basic(dav: Dav) -> str:
    return "Basic " + base64.b64encode(f"hc.a1:{dav.secrets['hc.a1']}".encode()).decode()


def test_etags_and_dates_come_from_the_drive_and_move_up_the_folders(dav: Dav) -> None:
    assert dav.request("MKCOL", "/dav/hc.a1/stamps")[0] == 201
    _, before = dav.propfind("/dav/hc.a1/stamps", depth="0")
    status, headers, _ = dav.request("PUT", "/dav/hc.a1/stamps/one.txt", body=b"1")
    assert status == 201
    put_etag = headers["ETag"]
    status, headers, _ = dav.request("GET", "/dav/hc.a1/stamps/one.txt")
    assert headers["ETag"] == put_etag and headers["Last-Modified"].endswith("GMT")
    _, listing = dav.propfind("/dav/hc.a1/stamps/one.txt", depth="0")
    assert _prop(listing, "getetag") == [put_etag]
    _, after = dav.propfind("/dav/hc.a1/stamps", depth="0")
    assert _prop(before, "getetag") != _prop(after, "getetag")
    status, _, _ = dav.request(
        "GET", "/dav/hc.a1/stamps/one.txt", headers={"If-None-Match": put_etag}
    )
    assert status == 304
    assert dav.request("PUT", "/dav/hc.a1/stamps/one.txt", body=b"2")[0] == 204
    status, _, _ = dav.request(
        "PUT", "/dav/hc.a1/stamps/one.txt", body=b"3", headers={"If-Match": put_etag}
    )
    assert status == 412


def test_quotas_are_shown_only_to_whoever_sees_the_whole_space(dav: Dav) -> None:
    propfind = {"Depth": "0", "Content-Type": "application/xml"}
    # The SHO owns their space and is cleared for Secret: they see its figures.
    status, _, body = dav.request(
        "PROPFIND", "/dav/sho.a1/", user="sho.a1", body=QUOTA_PROPS, headers=propfind
    )
    assert status == 207 and _prop(body.decode(), "quota-used-bytes")
    # A head constable's unit space holds a Confidential file they may not see: no figures.
    status, _, body = dav.request(
        "PROPFIND", f"/dav/{UNIT_A1}/", body=QUOTA_PROPS, headers=propfind
    )
    assert status == 207
    assert not _prop(body.decode(), "quota-used-bytes")
    assert "404 Not Found" in body.decode()


@pytest.fixture
def small_quota(dav: Dav) -> Iterator[None]:
    instance = dav.open_instance()
    try:
        with instance.sessions() as session, transaction(session):
            space = session.query(Space).filter(Space.name == "hc.a2").one()
            spaces.set_quota(session=session, space_id=space.id, quota_bytes=MiB, context=SYSTEM)
        yield
        with instance.sessions() as session, transaction(session):
            spaces.set_quota(session=session, space_id=space.id, quota_bytes=None, context=SYSTEM)
    finally:
        instance.close()


def test_a_put_beyond_the_quota_is_refused(dav: Dav, small_quota: None) -> None:
    status, _, body = dav.request("PUT", "/dav/hc.a2/big.bin", user="hc.a2", body=b"x" * 2 * MiB)
    assert status == 507, body
    assert dav.request("GET", "/dav/hc.a2/big.bin", user="hc.a2")[0] == 404


def _peak_memory(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_large_put_streams_without_being_held_in_memory(dav: Dav) -> None:
    """64 MiB up and down: the server's peak memory grows by far less than the file."""
    size = 64 * MiB
    block = hashlib.sha256(b"seed").digest() * (MiB // 32)
    assert dav.server.process is not None
    pid = dav.server.process.pid
    before = _peak_memory(pid)

    def body() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield block

    status, _, answer = dav.request(
        "PUT", "/dav/hc.a1/large.bin", body=body(), headers={"Content-Length": str(size)}
    )
    assert status == 201, answer
    status, headers, data = dav.request("GET", "/dav/hc.a1/large.bin")
    assert status == 200 and int(headers["Content-Length"]) == size
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(block * (size // MiB)).hexdigest()
    assert _peak_memory(pid) - before < size // 2


def _incident(dav: Dav, *, on: bool) -> None:
    instance = dav.open_instance()
    try:
        with instance.sessions() as session, transaction(session):
            if on:
                incident.turn_on(session=session, actor=None, context=SYSTEM, reason="drill")
            else:
                incident.turn_off(session=session, actor=None, context=SYSTEM)
    finally:
        instance.close()
    # The server reads the switch through a cache of a few seconds: ask until it answers so.
    expected = 503 if on else 404
    wait_for(
        lambda: dav.request("DELETE", "/dav/hc.a1/nothing-here")[0] == expected,
        what="the incident switch",
    )


def test_during_an_incident_webdav_reads_and_refuses_writes(dav: Dav) -> None:
    assert dav.request("PUT", "/dav/hc.a1/before.txt", body=b"before")[0] == 201
    _incident(dav, on=True)
    try:
        status, _, body = dav.request("PUT", "/dav/hc.a1/during.txt", body=b"during")
        assert status == 503 and b"read-only" in body
        assert dav.request("MKCOL", "/dav/hc.a1/during")[0] == 503
        assert dav.propfind("/dav/hc.a1/")[0] == 207
        assert dav.request("GET", "/dav/hc.a1/before.txt")[:3:2] == (200, b"before")
    finally:
        _incident(dav, on=False)
    assert dav.request("GET", "/dav/hc.a1/during.txt")[0] == 404


def test_a_range_is_sent_from_its_start(dav: Dav) -> None:
    data = bytes(range(256)) * 1024
    assert dav.request("PUT", "/dav/hc.a1/ranged.bin", body=data)[0] == 201
    status, headers, body = dav.request(
        "GET", "/dav/hc.a1/ranged.bin", headers={"Range": "bytes=1000-1999"}
    )
    assert status == 206 and body == data[1000:2000]
    assert headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"


def test_a_get_of_damaged_content_is_refused_and_audited_as_failed(dav: Dav) -> None:
    """A file whose first chunk was tampered with on disk: a clear 500 before any byte (the
    status line is held until the check), recorded as ``file.read_failed``, never as a read."""
    content = os.urandom(3000)
    assert dav.request("PUT", "/dav/hc.a1/damaged.bin", body=content)[0] == 201
    instance = dav.open_instance()
    try:
        with instance.sessions() as session:
            node = session.scalars(select(Node).where(Node.name == "damaged.bin")).one()
            version = session.scalars(select(FileVersion).where(FileVersion.node_id == node.id))
            chunks = ContentRef.from_dict(version.one().content).chunks
        backend = instance.blobs.backend
        assert isinstance(backend, LocalBackend)
        path = backend.root / names.chunk_name(chunks[0].chunk_id)
        blob = bytearray(path.read_bytes())
        blob[60] ^= 0x01
        path.write_bytes(bytes(blob))
        status, _, body = dav.request("GET", "/dav/hc.a1/damaged.bin")
        assert status == 500
        assert b"integrity_error" in body and content[:16] not in body
        with instance.sessions() as session:
            actions = session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.object_id == str(node.id))
                .where(AuditRecord.action.in_(("file.read", "file.read_failed")))
            ).all()
        assert actions == ["file.read_failed"]
    finally:
        instance.close()
