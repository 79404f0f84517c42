"""At scale, a job queued on one node wakes the workers of another at once, through Redis.

Uses the local Redis on 6379 when it answers; otherwise starts a throwaway ``redis-server``
(Debian's, installed by ``scripts/test.sh``) on a free port and stops it afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest
import redis

from polaris import jobs
from polaris.db.uow import transaction
from polaris.instance import Instance
from polaris.jobs import notify


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
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


def test_a_job_committed_here_nudges_a_listener_elsewhere(
    instance: Instance, redis_url: str
) -> None:
    other_node = notify.RedisNudge(redis_url)
    woken = threading.Event()
    other_node.listen(woken)
    subscribed = redis.Redis.from_url(redis_url)
    try:
        # Wait until the listener's subscription is live (Redis counts subscribers).
        while subscribed.pubsub_numsub(notify.CHANNEL)[0][1] == 0:
            woken.wait(0.05)
        notify.configure(redis_url)
        session = instance.sessions()
        with transaction(session):
            jobs.enqueue(session, kind="test.nudge", payload={})
            assert not woken.is_set()  # nothing before the commit
        session.close()
        assert woken.wait(timeout=30), "the other node was not nudged"
    finally:
        notify.configure(None)
        other_node.close()
        subscribed.close()


def test_without_redis_queueing_still_works(instance: Instance) -> None:
    notify.configure("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        session = instance.sessions()
        with transaction(session):
            job = jobs.enqueue(session, kind="test.nudge", payload={})
        session.close()
        session = instance.sessions()
        with transaction(session):
            assert jobs.get_job(session, job.id).status == "queued"
        session.close()
    finally:
        notify.configure(None)
