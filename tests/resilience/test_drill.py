"""The drill, against a real ``polaris serve`` (its event runner thread runs beside the requests,
as in production): a client overwrites 300 files with random bytes through the API as fast as it
can, one after the other; the guard must freeze the account within 20 files, and
``polaris guard restore`` must bring all 300 back byte-identical. Then the other side: a user
uploading 300 ZIPs, JPEGs, PDFs and password-protected PDFs, and new versions of them, is never
frozen.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from polaris import events
from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.events.models import EventCursor
from polaris.identity import program_tokens
from polaris.identity.models import User
from polaris.instance import open_instance
from polaris.resilience.consumers import CONSUMER
from tests.factories import SYSTEM, build_tree, make_user
from tests.live_server import Server, wait_for
from tests.resilience.formats import encrypted_pdf, plain_pdf

FILES = 300
WITHIN = 20


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Server, str, Path]]:
    data_dir = tmp_path / "instance"
    result = CliRunner().invoke(cli_app, ["init", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    instance = open_instance(load_settings(data_dir))
    with instance.sessions() as session:
        build_tree(session)
        user = make_user(session, "hc.drill", unit="PS-A1", role="head_constable")
        token = program_tokens.create_token(
            session=session,
            user=user,
            name="drill",
            scopes=["all"],
            lifetime_days=1,
            context=SYSTEM,
        ).secret
        session.commit()
    instance.close()
    server = Server(data_dir)
    server.start()
    try:
        yield server, token, data_dir
    finally:
        server.stop()


def call(server: Server, token: str, method: str, path: str, body: bytes | None = None):  # type: ignore[no-untyped-def]
    status, _, data = server.request(method, path, body, {"Authorization": f"Bearer {token}"})
    return status, data


def root_of(server: Server, token: str) -> int:
    status, body = call(server, token, "GET", "/api/v1/spaces")
    assert status == 200
    return int(next(s["root_id"] for s in json.loads(body) if s["kind"] == "user"))


def upload(server: Server, token: str, parent: int, name: str, data: bytes) -> int:
    query = urlencode({"parent_id": parent, "name": name, "overwrite": "true"})
    status, body = call(server, token, "POST", f"/api/v1/files?{query}", data)
    assert status in (200, 201), body
    return int(json.loads(body)["id"])


def frozen(data_dir: Path) -> bool:
    instance = open_instance(load_settings(data_dir))
    try:
        with instance.sessions() as session:
            user = session.scalar(select(User).where(User.username == "hc.drill"))
            assert user is not None
            return user.writes_frozen_at is not None
    finally:
        instance.close()


def guard_caught_up(data_dir: Path) -> bool:
    """The guard's cursor has reached the stream's head (nothing is waiting for a position)."""
    instance = open_instance(load_settings(data_dir))
    try:
        with instance.sessions() as session:
            status = events.stream_status(session)
            cursor = session.get(EventCursor, CONSUMER)
            return status.unsequenced == 0 and cursor is not None and cursor.position >= status.head
    finally:
        instance.close()


def statement(index: int) -> bytes:
    line = f"Case {index}: statement of the witness, recorded at the station on duty.\n"
    return (line * 60).encode()[:4096]


def test_encryption_of_300_files_is_frozen_within_20_and_restored(
    live: tuple[Server, str, Path],
) -> None:
    server, token, data_dir = live
    root = root_of(server, token)
    originals = {
        upload(server, token, root, f"statement-{i}.txt", statement(i)): statement(i)
        for i in range(FILES)
    }
    wait_for(lambda: guard_caught_up(data_dir), what="the guard to read the uploads")
    since = dt.datetime.now(dt.UTC)

    overwritten = 0
    refusal = None
    for node_id in originals:
        status, body = call(
            server, token, "PUT", f"/api/v1/files/{node_id}/content", os.urandom(4096)
        )
        if status != 200:
            refusal = (status, json.loads(body)["code"])
            break
        overwritten += 1
    print(f"drill: frozen after {overwritten} overwritten files")
    assert refusal == (403, "writes_frozen")
    assert overwritten <= WITHIN
    # Reads still work while frozen.
    first = next(iter(originals))
    assert call(server, token, "GET", f"/api/v1/files/{first}/content")[0] == 200

    result = CliRunner().invoke(
        cli_app,
        [
            "guard",
            "restore",
            "--user",
            "hc.drill",
            "--since",
            since.isoformat(),
            "-d",
            str(data_dir),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"{overwritten} files restored" in result.output
    result = CliRunner().invoke(
        cli_app,
        ["guard", "unfreeze", "--user", "hc.drill", "-d", str(data_dir)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    for node_id, data in originals.items():
        status, content = call(server, token, "GET", f"/api/v1/files/{node_id}/content")
        assert (status, content) == (200, data)
    assert not frozen(data_dir)


def zip_of(index: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("evidence.bin", os.urandom(2048))
        archive.writestr("index.txt", f"exhibit {index}")
    return out.getvalue()


def jpeg_of(index: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (32, 32), os.urandom(32 * 32 * 3)).save(out, format="JPEG", quality=95)
    return out.getvalue()


@pytest.mark.slow  # 600 uploads with their previews and text jobs: over a minute here
def test_300_zips_jpegs_and_pdfs_with_new_versions_are_never_frozen(
    live: tuple[Server, str, Path],
) -> None:
    server, token, data_dir = live
    root = root_of(server, token)
    makers = [("zip", zip_of), ("jpg", jpeg_of), ("pdf", plain_pdf), ("secured.pdf", encrypted_pdf)]
    names = [(f"exhibit-{i}.{suffix}", make) for i in range(FILES // 4) for suffix, make in makers]
    for round_ in range(2):  # new files, then a new version of each (a PDF gets a password)
        for name, make in names:
            data = encrypted_pdf(len(name)) if round_ and make is plain_pdf else make(round_)
            upload(server, token, root, name, data)
    wait_for(lambda: guard_caught_up(data_dir), what="the guard to read every upload")
    assert not frozen(data_dir)
