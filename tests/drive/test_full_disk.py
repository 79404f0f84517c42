"""A full disk: of the blob store (uploads) and of the database (every other write).

Either answers 507 ``storage_full`` as problem+json in plain words (no file or chunk path), and
the same server works again once there is room, without a restart.
"""

from __future__ import annotations

import base64
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from polaris.app import create_app
from polaris.db import make_engine
from polaris.db.full import is_storage_full
from polaris.db.migrate import upgrade
from polaris.errors import AuditUnavailable
from polaris.storage import _fsio
from tests.drive.conftest import Drive, make_instance, seed
from tests.factories import PASSWORD

PROBLEM = "application/problem+json"


def assert_plain_507(response: httpx.Response, *private: str) -> None:
    assert response.status_code == 507, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "storage_full"
    assert body["detail"] == "the server's storage is full; nothing was saved"
    for secret in ("/", "chunk", "tmp", *private):
        assert secret not in response.text.replace("urn:polaris:error:storage_full", "")


def _disk_full(fd: int, data: bytes) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_blob_store_answers_without_internal_paths(
    drive: Drive, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = drive.root("hc.a1")
    with monkeypatch.context() as fault:
        fault.setattr(_fsio, "write_all", _disk_full)
        response = drive.post(
            "hc.a1", "/api/v1/files", params={"parent_id": root, "name": "a.bin"}, content=b"x"
        )
    assert_plain_507(response, str(drive.instance.settings.data_dir))


def test_full_disk_errors_are_recognised_through_their_wrappers() -> None:
    sqlite_full = sqlite3.OperationalError("database or disk is full")
    postgresql_full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    for driver_error in (sqlite_full, postgresql_full):
        wrapped = OperationalError("INSERT ...", {}, driver_error)
        try:
            try:
                raise wrapped
            except OperationalError as error:
                raise AuditUnavailable("the audit record could not be written") from error
        except AuditUnavailable as audit_error:
            assert is_storage_full(audit_error)
    assert not is_storage_full(OperationalError("x", {}, sqlite3.OperationalError("locked")))
    assert not is_storage_full(OperationalError("x", {}, psycopg.errors.QueryCanceled("t")))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB filesystem of its own (tmpfs), for a database that can really run out of room."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem holding ``directory``."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1024 * 1024, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_database_disk_is_507_and_writes_work_again_once_there_is_room(
    small_disk: Path, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{small_disk / 'polaris.db'}")
    upgrade(engine)
    instance = make_instance(engine, tmp_path)
    session = instance.sessions()
    tokens, _, _ = seed(session)
    session.commit()
    session.close()
    raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
    try:  # the write-ahead log emptied, so that every write must grow a file
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    app = create_app(instance, seal_periodically=False, run_jobs=False)
    with TestClient(app, base_url="https://testserver") as client:
        bearer = {"Authorization": f"Bearer {tokens['hc.a1']}"}
        root = next(s for s in client.get("/api/v1/spaces", headers=bearer).json())["root_id"]

        def sign_in() -> httpx.Response:
            return client.post(
                "/api/v1/auth/login", json={"username": "ct.a1", "password": PASSWORD}
            )

        def mkdir(name: str) -> httpx.Response:
            return client.post(f"/api/v1/nodes/{root}/folders", json={"name": name}, headers=bearer)

        def tus_create() -> httpx.Response:
            meta = ",".join(
                f"{key} {base64.b64encode(str(value).encode()).decode()}"
                for key, value in (("filename", "a.txt"), ("parent_id", root))
            )
            headers = {"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": meta}
            return client.post("/api/v1/uploads", headers={**bearer, **headers})

        def search() -> httpx.Response:
            return client.get("/api/v1/search", params={"q": "fir"}, headers=bearer)

        filler = fill(small_disk)
        assert_plain_507(sign_in(), str(small_disk))
        assert_plain_507(mkdir("cases"), str(small_disk))
        assert_plain_507(tus_create(), str(small_disk))
        assert_plain_507(search(), str(small_disk))
        filler.unlink()
        assert sign_in().status_code == 200
        assert mkdir("cases").status_code == 201
        assert tus_create().status_code == 201
        assert search().status_code == 200
    engine.dispose()
