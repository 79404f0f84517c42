"""A Redis for the tests that need one (job nudges between nodes).

Uses the local Redis on 6379 when it answers; otherwise starts a throwaway ``redis-server``
(Debian's, installed by ``scripts/test.sh``) on a free port and stops it afterwards. When the
suite runs in several processes (pytest-xdist), each process but the first starts its own: Redis
channels are shared by every database number, so two processes' tests would wake each other.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

LOCAL = "redis://127.0.0.1:6379/0"


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@contextmanager
def running_redis() -> Iterator[str]:
    """The URL of a Redis that answers, for as long as the block runs."""
    first_process = os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0"
    if first_process and answers(LOCAL):
        yield LOCAL
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: run ./scripts/test.sh, which installs it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # wait for the server to say it is ready, not for a time
        if "Ready to accept connections" in line:
            break
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A live Redis for the whole run (a plugin of ``tests/conftest.py``: any test may ask)."""
    with running_redis() as url:
        yield url
