"""A real ``polaris serve`` killed with SIGKILL in the middle of an upload.

What must hold: no partial file is ever visible, the tus upload resumes from the offset the
restarted server reports, and the finished file is exact. Runs on the embedded default (SQLite and
the local blob store), the shape most exposed to a power cut.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.identity import program_tokens
from polaris.instance import open_instance
from tests.factories import SYSTEM, build_tree, make_user
from tests.live_server import Server, wait_for

CHUNK = 64 * 1024


@pytest.fixture
def instance_dir(tmp_path: Path) -> Iterator[tuple[Path, str, int]]:
    data_dir = tmp_path / "instance"
    result = CliRunner().invoke(cli_app, ["init", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    build_tree(session)
    user = make_user(session, "hc.crash", unit="PS-A1", role="head_constable")
    token = program_tokens.create_token(
        session=session, user=user, name="crash", scopes=["all"], lifetime_days=1, context=SYSTEM
    ).secret
    session.commit()
    session.close()
    instance.close()
    yield data_dir, token, user.id


def test_killed_server_mid_upload_loses_nothing_and_resumes(
    instance_dir: tuple[Path, str, int],
) -> None:
    data_dir, token, _ = instance_dir
    auth = {"Authorization": f"Bearer {token}"}
    tus = {**auth, "Tus-Resumable": "1.0.0"}
    data = os.urandom(40 * CHUNK + 999)
    server = Server(data_dir)
    server.start()
    try:
        status, _, body = server.request("GET", "/api/v1/spaces", headers=auth)
        assert status == 200
        root = next(s["root_id"] for s in json.loads(body) if s["kind"] == "user")
        meta = (
            f"filename {base64.b64encode('जब्ती सूची.pdf'.encode()).decode()},"
            f"parent_id {base64.b64encode(str(root).encode()).decode()}"
        )
        status, headers, _ = server.request(
            "POST",
            "/api/v1/uploads",
            headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
        )
        assert status == 201
        location = headers["Location"]

        def offset() -> int:
            status, headers, _ = server.request("HEAD", location, headers=tus)
            assert status == 200
            return int(headers["Upload-Offset"])

        # Send the headers and part of the body, then kill the server while the request is open.
        sender = socket.create_connection(("127.0.0.1", server.port))
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        sender.sendall(head.encode() + data[: 25 * CHUNK])
        wait_for(lambda: offset() >= 16 * CHUNK, what="progress to be recorded")
        server.kill()
        sender.close()

        server.start()
        resumed_at = offset()
        assert 16 * CHUNK <= resumed_at <= 25 * CHUNK
        assert resumed_at % CHUNK == 0
        status, _, body = server.request("GET", f"/api/v1/nodes/{root}/children", headers=auth)
        assert json.loads(body)["items"] == [], "a partial upload must never be visible"

        status, headers, _ = server.request(
            "PATCH",
            location,
            body=data[resumed_at:],
            headers={
                **tus,
                "Upload-Offset": str(resumed_at),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert status == 204
        node_id = headers["Polaris-Node-Id"]
        status, _, content = server.request("GET", f"/api/v1/files/{node_id}/content", headers=auth)
        assert status == 200
        assert hashlib.sha256(content).hexdigest() == hashlib.sha256(data).hexdigest()
        status, _, body = server.request("GET", f"/api/v1/nodes/{node_id}", headers=auth)
        assert json.loads(body)["sha256"] == hashlib.sha256(data).hexdigest()
    finally:
        server.stop()


@pytest.mark.slow
def test_several_worker_processes_share_one_instance(instance_dir: tuple[Path, str, int]) -> None:
    """``polaris serve --workers 2``: uploads through either process land in the one drive."""
    data_dir, token, _ = instance_dir
    auth = {"Authorization": f"Bearer {token}"}
    server = Server(data_dir, workers=2)
    server.start()
    try:
        _, _, body = server.request("GET", "/api/v1/spaces", headers=auth)
        root = next(s["root_id"] for s in json.loads(body) if s["kind"] == "user")
        for number in range(6):
            status, _, _ = server.request(
                "POST", f"/api/v1/files?parent_id={root}&name=f{number}", b"x" * number, auth
            )
            assert status == 201
        status, _, body = server.request("GET", f"/api/v1/nodes/{root}/children", headers=auth)
        assert [item["name"] for item in json.loads(body)["items"]] == [f"f{n}" for n in range(6)]
    finally:
        server.stop()


def test_killed_server_loses_no_acknowledged_small_upload(
    instance_dir: tuple[Path, str, int],
) -> None:
    """Eight clients upload small files, their write transactions committed together
    (``polaris.db.group_commit``); SIGKILL while they do. Every upload that was answered 201 is
    there after the restart, with its bytes; none that was not answered is half there."""
    data_dir, token, _ = instance_dir
    auth = {"Authorization": f"Bearer {token}"}
    server = Server(data_dir)
    server.start()
    acknowledged: dict[str, bytes] = {}
    killed = threading.Event()

    def client(number: int) -> None:
        for count in itertools.count():
            name = f"c{number}-{count}.bin"
            body = f"{name} ".encode() * 500
            try:
                status, _, _ = server.request(
                    "POST", f"/api/v1/files?parent_id={root}&name={name}", body, auth
                )
            except OSError:
                assert killed.is_set()
                return
            if killed.is_set():
                return  # an answer may have left before the kill; not counted either way
            assert status == 201
            acknowledged[name] = body

    try:
        _, _, body = server.request("GET", "/api/v1/spaces", headers=auth)
        root = next(s["root_id"] for s in json.loads(body) if s["kind"] == "user")
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client, n) for n in range(8)]
            wait_for(lambda: len(acknowledged) >= 40, what="uploads to be acknowledged")
            seen = dict(acknowledged)  # answered before the kill
            killed.set()
            server.kill()
            for future in futures:
                future.result()

        server.start()
        status, _, body = server.request(
            "GET", f"/api/v1/nodes/{root}/children?limit=1000", headers=auth
        )
        assert status == 200
        listed = {item["name"]: item for item in json.loads(body)["items"]}
        assert set(seen) <= set(listed), "an acknowledged upload was lost"
        for name, item in listed.items():
            status, _, content = server.request(
                "GET", f"/api/v1/files/{item['id']}/content", headers=auth
            )
            assert status == 200
            assert content == f"{name} ".encode() * 500  # whole, never a part
    finally:
        server.stop()
