"""At scale, a job queued on one node wakes the workers of another at once, through Redis.

Uses the local Redis on 6379 when it answers, or a throwaway one (``tests/support/redis_server``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from polaris import jobs
from polaris.db.uow import transaction
from polaris.instance import Instance
from polaris.jobs import notify
from tests.support.redis_server import running_redis


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as url:
        yield url


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
