"""At scale, events committed on one node wake the event runners of the others, through Redis."""

from __future__ import annotations

import threading

import redis
from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import unit_of_work
from polaris.events import append, notify
from polaris.jobs.notify import RedisNudge


def test_events_committed_here_nudge_a_runner_elsewhere(
    sessions: sessionmaker[Session], redis_url: str
) -> None:
    other_node = RedisNudge(redis_url, channel=notify.CHANNEL)
    woken = threading.Event()
    other_node.listen(woken)
    subscribed = redis.Redis.from_url(redis_url)
    try:
        while subscribed.pubsub_numsub(notify.CHANNEL)[0][1] == 0:  # its subscription is live
            woken.wait(0.05)
        notify.configure(redis_url)
        with unit_of_work(sessions) as session:
            append(session, kind="node.created", subject=("node", 1))
            session.flush()
            assert not woken.is_set()  # nothing before the commit
        assert woken.wait(timeout=30), "the other node was not nudged"
    finally:
        notify.configure(None)
        other_node.close()
        subscribed.close()
