"""A Redis server for tests of cross-node wake-ups.

Uses the local Redis on 6379 when it answers; otherwise starts a throwaway ``redis-server``
(Debian's, installed by ``scripts/test.sh``) on a free port and stops it afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest
import redis


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    local = "redis://127.0.0.1:6379/0"
    if _answers(local):
        yield local
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
    url = f"redis://127.0.0.1:{port}/0"
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
