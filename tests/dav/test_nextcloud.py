"""What the Nextcloud clients need besides plain WebDAV (``dav.nextcloud``, ``dav.chunking``,
``dav.checksums``): status, capabilities and the user, the ``oc:`` properties, upload headers,
checksums, modification times and chunked uploads v2 in both the 3.7 and the >= 3.10 style. On
SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import http.client
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from polaris.admin.stored_content import DatabaseReferences
from polaris.audit.models import AuditRecord
from polaris.identity.models import LoginFlow
from tests.dav.conftest import UNIT_A1, Dav, serving_on
from tests.factories import PASSWORD

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

PROPS = (
    '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    "<d:getetag/><d:getlastmodified/><oc:fileid/><oc:id/><oc:permissions/><oc:size/>"
    "<oc:checksums/>"
    "</d:prop></d:propfind>"
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def nc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dav]:
    with serving_on(request.param, tmp_path_factory.mktemp("nc") / "instance", "davnc") as running:
        yield running


def _url(dav: Dav, path: str) -> str:
    return f"http://127.0.0.1:{dav.server.port}{quote(path)}"


def _props(dav: Dav, path: str, user: str = "hc.a1", depth: str = "0") -> str:
    status, _, body = dav.request(
        "PROPFIND", path, user=user, body=PROPS.encode(), headers={"Depth": depth}
    )
    assert status == 207, body
    return body.decode("utf-8")


def _value(listing: str, name: str) -> str:
    found = re.search(rf"<[A-Za-z0-9]*:?{name}>([^<]*)</", listing)
    assert found is not None, listing
    return found.group(1)


def _records(dav: Dav, action: str, **where: str) -> list[AuditRecord]:
    instance = dav.open_instance()
    try:
        with instance.sessions() as session:
            query = select(AuditRecord).where(AuditRecord.action == action)
            for column, value in where.items():
                query = query.where(getattr(AuditRecord, column) == value)
            return list(session.scalars(query.order_by(AuditRecord.id)))
    finally:
        instance.close()


def test_status_and_capabilities_answer_without_signing_in(nc: Dav) -> None:
    status, _, body = nc.server.request("GET", "/status.php")
    assert status == 200
    assert json.loads(body)["installed"] is True
    for version, code in (("v1", 100), ("v2", 200)):
        status, _, body = nc.server.request(
            "GET", f"/ocs/{version}.php/cloud/capabilities?format=json"
        )
        assert status == 200
        answer = json.loads(body)["ocs"]
        assert answer["meta"]["statuscode"] == code
        caps = answer["data"]["capabilities"]
        assert caps["dav"]["chunking"] == "1.0"
        assert "SHA1" in caps["checksums"]["supportedTypes"]
        assert caps["core"]["webdav-root"] == "remote.php/webdav"


def test_cloud_user_names_the_signed_in_user_and_needs_signing_in(nc: Dav) -> None:
    status, _, body = nc.request("GET", "/ocs/v2.php/cloud/user", user="hc.a2")
    assert status == 200 and json.loads(body)["ocs"]["data"]["id"] == "hc.a2"
    assert nc.server.request("GET", "/ocs/v2.php/cloud/user")[0] == 401
    status, _, body = nc.server.request("GET", "/ocs/v1.php/cloud/user")
    assert json.loads(body)["ocs"]["meta"]["statuscode"] == 997
    assert nc.request("GET", "/ocs/v2.php/cloud/user", secret="wrong")[0] == 401


def test_oc_properties_and_folder_etags(nc: Dav) -> None:
    folder = "/remote.php/dav/files/hc.a1/hc.a1/props"
    assert nc.request("MKCOL", folder)[0] == 201
    assert nc.request("MKCOL", folder + "/below")[0] == 201
    before = _value(_props(nc, folder), "getetag")
    status, headers, _ = nc.request("PUT", folder + "/below/एक.txt", body=b"12345")
    assert status == 201
    listing = _props(nc, folder + "/below/एक.txt")
    file_id = _value(listing, "fileid")
    assert _value(listing, "id") == headers["OC-FileId"] == f"{int(file_id):08d}ocpolaris"
    assert _value(listing, "getetag") == headers["OC-ETag"] == headers["ETag"]
    assert _value(listing, "size") == "5"
    sha1 = hashlib.sha1(b"12345", usedforsecurity=False).hexdigest()
    md5 = hashlib.md5(b"12345", usedforsecurity=False).hexdigest()
    assert _value(listing, "checksum") == f"SHA1:{sha1} MD5:{md5}"
    # Listed with its folder too, and kept by a copy.
    assert f"SHA1:{sha1}" in _props(nc, folder + "/below", depth="1")
    copy = {"Destination": _url(nc, folder + "/below/दो.txt")}
    assert nc.request("COPY", folder + "/below/एक.txt", headers=copy)[0] == 201
    assert _value(_props(nc, folder + "/below/दो.txt"), "checksum").startswith(f"SHA1:{sha1}")
    assert set(_value(listing, "permissions")) >= set("DNVW")
    folder_props = _props(nc, folder)
    assert _value(folder_props, "getetag") != before  # a change two levels below
    assert set(_value(folder_props, "permissions")) >= set("CK")


def test_a_reader_is_told_it_may_not_write(nc: Dav) -> None:
    status, _, _ = nc.request(
        "PUT", f"/remote.php/dav/files/hc.a1/{UNIT_A1}/unit-file.txt", body=b"x"
    )
    assert status in (201, 204)
    listing = _props(nc, f"/remote.php/dav/files/c.a1/{UNIT_A1}/unit-file.txt", user="c.a1")
    assert not set(_value(listing, "permissions")) & set("WDNV")


def test_put_keeps_the_client_mtime(nc: Dav) -> None:
    path = "/remote.php/dav/files/hc.a1/hc.a1/mtime.txt"
    status, headers, _ = nc.request("PUT", path, body=b"x", headers={"X-OC-Mtime": "1700000000"})
    assert status == 201 and headers["X-OC-MTime"] == "accepted"
    modified = email.utils.parsedate_to_datetime(_value(_props(nc, path), "getlastmodified"))
    assert modified == dt.datetime.fromtimestamp(1700000000, dt.UTC)
    status, headers, _ = nc.request("PUT", path, body=b"y", headers={"X-OC-Mtime": "soon"})
    assert status == 204 and "X-OC-MTime" not in headers


@pytest.mark.parametrize("size", [10, 3 * 1024 * 1024], ids=["in-memory", "streamed"])
def test_oc_checksum_is_checked_and_a_mismatch_stores_nothing(nc: Dav, size: int) -> None:
    body = os.urandom(size)
    path = f"/remote.php/dav/files/hc.a1/hc.a1/sum-{size}.bin"
    wrong = {"OC-Checksum": "SHA1:" + hashlib.sha1(b"other", usedforsecurity=False).hexdigest()}
    status, _, answer = nc.request("PUT", path, body=body, headers=wrong)
    assert status == 400 and b"checksum_mismatch" in answer
    assert nc.request("PROPFIND", path, headers={"Depth": "0"})[0] == 404
    for kind, value in (
        ("SHA1", hashlib.sha1(body, usedforsecurity=False).hexdigest()),
        ("MD5", hashlib.md5(body, usedforsecurity=False).hexdigest()),
    ):
        status, _, _ = nc.request(
            "PUT", path, body=body, headers={"OC-Checksum": f"{kind}:{value}"}
        )
        assert status in (201, 204)
    assert nc.request("GET", path)[2] == body
    assert nc.request("PUT", path, body=body, headers={"OC-Checksum": "SHA1"})[0] == 400


def _chunked(
    dav: Dav, transfer: str, chunks: dict[str, bytes], destination: str, *, v2: bool
) -> tuple[int, http.client.HTTPMessage, bytes]:
    base = f"/remote.php/dav/uploads/hc.a1/{transfer}"
    total = str(sum(len(data) for data in chunks.values()))
    extra = {"Destination": _url(dav, destination), "OC-Total-Length": total} if v2 else {}
    assert dav.request("MKCOL", base, headers=extra)[0] == 201
    for name, data in chunks.items():
        assert dav.request("PUT", f"{base}/{name}", body=data, headers=extra)[0] == 201
    status, _, listing = dav.request("PROPFIND", base, headers={"Depth": "1"})
    assert status == 207
    assert all(f"/{name}</d:href>" in listing.decode() for name in chunks)
    whole = b"".join(chunks[name] for name in sorted(chunks, key=int))
    status, headers, body = dav.request(
        "MOVE",
        f"{base}/.file",
        headers={
            "Destination": _url(dav, destination),
            "OC-Total-Length": total,
            "OC-Checksum": "SHA1:" + hashlib.sha1(whole, usedforsecurity=False).hexdigest(),
            "X-OC-Mtime": "1600000000",
        },
    )
    return status, headers, body


@pytest.mark.parametrize("v2", [True, False], ids=["3.10-style", "3.7-style"])
def test_a_chunked_upload_becomes_the_file(nc: Dav, v2: bool) -> None:
    pieces = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), b"tail"]
    if v2:
        chunks = {"2": pieces[1], "1": pieces[0], "3": pieces[2]}  # sent out of order
    else:
        offsets = [0, len(pieces[0]), len(pieces[0]) + len(pieces[1])]
        chunks = {f"{offset:016d}": piece for offset, piece in zip(offsets, pieces, strict=True)}
    destination = f"/remote.php/dav/files/hc.a1/hc.a1/बड़ा-{v2}.bin"
    created = len(_records(nc, "file.create"))
    status, headers, body = _chunked(nc, f"t-{v2}", chunks, destination, v2=v2)
    assert status == 201, body
    assert headers["X-OC-MTime"] == "accepted" and headers["OC-FileId"].endswith("ocpolaris")
    assert nc.request("GET", destination)[2] == b"".join(pieces)
    assert _value(_props(nc, destination), "getetag") == headers["OC-ETag"]
    assert len(_records(nc, "file.create")) == created + 1
    gone = nc.request("PROPFIND", f"/remote.php/dav/uploads/hc.a1/t-{v2}", headers={"Depth": "1"})
    assert gone[0] == 404
    # The same again replaces the file: a new version (204).
    status, _, body = _chunked(nc, f"t2-{v2}", chunks, destination, v2=v2)
    assert status == 204, body


def test_a_chunked_upload_that_does_not_add_up_stores_nothing(nc: Dav) -> None:
    destination = "/remote.php/dav/files/hc.a1/hc.a1/never.bin"
    base = "/remote.php/dav/uploads/hc.a1/bad"
    assert nc.request("MKCOL", base)[0] == 201
    assert nc.request("PUT", base + "/1", body=b"abc")[0] == 201
    status, _, body = nc.request(
        "MOVE",
        base + "/.file",
        headers={"Destination": _url(nc, destination), "OC-Checksum": "MD5:00ff"},
    )
    assert status == 400 and b"checksum_mismatch" in body
    status, _, body = nc.request(
        "MOVE",
        base + "/.file",
        headers={"Destination": _url(nc, destination), "OC-Total-Length": "4"},
    )
    assert status == 400 and b"length_mismatch" in body
    assert nc.request("PROPFIND", destination, headers={"Depth": "0"})[0] == 404
    assert nc.request("DELETE", base)[0] == 204
    assert nc.request("PROPFIND", base, headers={"Depth": "1"})[0] == 404


def test_chunk_numbers_of_the_new_style_are_1_to_10000(nc: Dav) -> None:
    base = "/remote.php/dav/uploads/hc.a1/numbers"
    destination = {"Destination": _url(nc, "/remote.php/dav/files/hc.a1/hc.a1/n.bin")}
    assert nc.request("MKCOL", base, headers=destination)[0] == 201
    for name in ("0", "10001", "abc"):
        assert nc.request("PUT", f"{base}/{name}", body=b"x", headers=destination)[0] == 400
    other = {"Destination": _url(nc, "/remote.php/dav/files/hc.a1/hc.a1/other.bin")}
    assert nc.request("PUT", f"{base}/1", body=b"x", headers=other)[0] == 400
    assert nc.request("MKCOL", base, headers=destination)[0] == 405


def test_chunks_beyond_the_announced_length_are_refused(nc: Dav) -> None:
    base = "/remote.php/dav/uploads/hc.a1/bounded"
    announced = {
        "Destination": _url(nc, "/remote.php/dav/files/hc.a1/hc.a1/bounded.bin"),
        "OC-Total-Length": "5",
    }
    assert nc.request("MKCOL", base, headers=announced)[0] == 201
    assert nc.request("PUT", f"{base}/1", body=b"abc", headers=announced)[0] == 201
    assert nc.request("PUT", f"{base}/2", body=b"def", headers=announced)[0] == 413
    assert nc.request("PUT", f"{base}/1", body=b"abcd", headers=announced)[0] == 201  # replaced
    assert nc.request("DELETE", base)[0] == 204


def test_a_destination_in_a_hidden_space_answers_as_a_missing_one(nc: Dav) -> None:
    answers = []
    for space in ("Unit PS-A2", "No such space"):
        target = f"/remote.php/dav/files/hc.a1/{space}/x.bin"
        answers.append(
            nc.request(
                "MKCOL",
                f"/remote.php/dav/uploads/hc.a1/hidden-{len(answers)}",
                headers={"Destination": _url(nc, target), "OC-Total-Length": "1"},
            )[::2]
        )
    assert answers[0] == answers[1] and answers[0][0] == 409


def test_uploads_are_their_owners_alone(nc: Dav) -> None:
    base = "/remote.php/dav/uploads/hc.a1/mine"
    assert nc.request("MKCOL", base)[0] == 201
    assert nc.request("PROPFIND", base, user="hc.a2", headers={"Depth": "1"})[0] == 404
    assert nc.request("PUT", "/remote.php/dav/uploads/hc.a2/mine/1", body=b"x")[0] == 404
    status, _, _ = nc.request(
        "PROPFIND", "/remote.php/dav/uploads/hc.a2/mine", user="hc.a2", headers={"Depth": "1"}
    )
    assert status == 404


def test_a_chunked_upload_where_the_caller_may_not_write_is_refused_at_once(nc: Dav) -> None:
    refused = len(_records(nc, "node.write", decision="deny", actor_name="c.a1"))
    target = f"/remote.php/dav/files/c.a1/{UNIT_A1}/not-mine.bin"
    status, _, _ = nc.request(
        "MKCOL",
        "/remote.php/dav/uploads/c.a1/ro",
        user="c.a1",
        headers={"Destination": _url(nc, target), "OC-Total-Length": "3"},
    )
    assert status == 403
    assert len(_records(nc, "node.write", decision="deny", actor_name="c.a1")) > refused


def test_move_copy_delete_and_mkcol_at_the_nextcloud_address(nc: Dav, tmp_path: Path) -> None:
    root = "/remote.php/dav/files/hc.a1/hc.a1"
    assert nc.request("MKCOL", f"{root}/ops")[0] == 201
    assert nc.request("PUT", f"{root}/ops/a.txt", body=b"a")[0] == 201
    copy = {"Destination": _url(nc, f"{root}/ops/b.txt")}
    assert nc.request("COPY", f"{root}/ops/a.txt", headers=copy)[0] == 201
    move = {"Destination": _url(nc, f"{root}/ops/c.txt")}
    assert nc.request("MOVE", f"{root}/ops/a.txt", headers=move)[0] == 201
    assert nc.request("GET", f"{root}/ops/c.txt")[2] == b"a"
    assert nc.request("DELETE", f"{root}/ops/b.txt")[0] == 204
    assert nc.request("GET", f"{root}/ops/b.txt")[0] == 404


def test_chunks_in_progress_are_kept_from_the_garbage_collector(nc: Dav) -> None:
    base = "/remote.php/dav/uploads/hc.a1/kept"
    assert nc.request("MKCOL", base)[0] == 201
    assert nc.request("PUT", base + "/1", body=b"chunk")[0] == 201
    instance = nc.open_instance()
    try:
        source = DatabaseReferences(instance.read_sessions)
        keys = [ref.key for ref in source.references() if ref.key.startswith("dav-upload:")]
        assert keys and all(ref for ref in keys)
        assert "kept" in next(iter(source.describe(keys).values()))
    finally:
        instance.close()
    assert nc.request("DELETE", base)[0] == 204


def _poll(dav: Dav, token: str) -> tuple[int, bytes]:
    status, _, body = dav.server.request(
        "POST",
        "/index.php/login/v2/poll",
        body=f"token={token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return status, body


def test_login_flow_hands_a_signed_in_persons_grant_to_the_app_once(nc: Dav) -> None:
    status, _, body = nc.server.request(
        "POST",
        "/index.php/login/v2",
        headers={"User-Agent": "Mozilla/5.0 (Android) Nextcloud-android/3.26"},
    )
    assert status == 200
    started = json.loads(body)
    token = started["poll"]["token"]
    page = started["login"].split(str(nc.server.port), 1)[1]
    assert started["poll"]["endpoint"].endswith("/index.php/login/v2/poll")
    assert _poll(nc, token)[0] == 404  # not granted yet
    status, headers, _ = nc.server.request("GET", page)
    assert status == 303 and headers["Location"].startswith("/login?next=")
    cookie = {"Cookie": nc.sign_in("hc.a2")[0]}
    status, _, shown = nc.server.request("GET", page, headers=cookie)
    assert status == 200 and "Nextcloud Android 3.26" in shown.decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', shown.decode())
    assert csrf is not None
    form = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, done = nc.server.request(
        "POST", page, body=f"csrf={csrf.group(1)}".encode(), headers=form
    )
    assert status == 200 and "connected" in done.decode()
    instance = nc.open_instance()
    try:
        with instance.sessions() as session:
            flow = session.scalars(select(LoginFlow)).one()
            assert flow.secret is not None and "pap-" not in flow.secret
    finally:
        instance.close()
    status, body = _poll(nc, token)
    assert status == 200
    granted = json.loads(body)
    assert granted["loginName"] == "hc.a2" and granted["appPassword"].startswith("pap-")
    assert granted["server"] == f"http://127.0.0.1:{nc.server.port}"
    propfind = nc.request(
        "PROPFIND",
        "/remote.php/dav/files/hc.a2/",
        user="hc.a2",
        secret=granted["appPassword"],
        headers={"Depth": "1"},
    )
    assert propfind[0] == 207
    assert _poll(nc, token)[0] == 404  # handed out once
    status, _, _ = nc.server.request("GET", page, headers=cookie)
    assert status == 404
    assert _records(nc, "app_password.create", actor_name="hc.a2")


def test_login_flow_needs_the_second_factor_where_the_role_does(nc: Dav) -> None:
    _, _, body = nc.server.request("POST", "/index.php/login/v2")
    page = json.loads(body)["login"].split(str(nc.server.port), 1)[1]
    status, headers, body = nc.server.request(
        "POST",
        "/api/v1/auth/login",
        body=json.dumps({"username": "sho.a1", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    cookie = "; ".join(value.split(";", 1)[0] for value in headers.get_all("set-cookie") or [])
    status, headers, _ = nc.server.request("GET", page, headers={"Cookie": cookie})
    assert status == 303 and headers["Location"] in ("/login/mfa", "/enrol")


def test_login_flow_refuses_an_unknown_token(nc: Dav) -> None:
    cookie = {"Cookie": nc.sign_in("hc.a1")[0]}
    status, _, body = nc.server.request("GET", "/index.php/login/v2/flow/nonsense", headers=cookie)
    assert status == 404 and "expired" in body.decode()
    assert _poll(nc, "nonsense")[0] == 404
    assert _poll(nc, "")[0] == 404
