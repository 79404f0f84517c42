"""Matrix sends that reach their write transaction together commit together
(``instance.message_commits``, ``polaris.db.group_commit``): each answers only once its message
is committed, in the room's order, and a send into a room the sender is not in fails alone with
Matrix's answer while the others land. On SQLite, where the writer lock is one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from polaris.audit.models import AuditRecord
from polaris.chat.models import ChatEvent
from tests.db.holding import first_write_held, wait_until
from tests.matrix.test_request_statements import Room, room  # noqa: F401  (the fixture)


def _send(room: Room, who: str, room_id: str, txn: str, body: str) -> Callable[[], Any]:  # noqa: F811
    path = f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{txn}"

    def send() -> Any:
        return room.client.request(
            "PUT",
            path,
            json={"msgtype": "m.text", "body": body},
            headers={"Authorization": f"Bearer {room.tokens[who]}"},
        )

    return send


def _together(room: Room, sends: list[Callable[[], Any]]) -> tuple[list[Any], list[int]]:  # noqa: F811
    """The first send leads and is held at its BEGIN; the others queue behind it."""
    group = room.instance.message_commits
    with first_write_held(room.engine) as (release, begun), ThreadPoolExecutor(len(sends)) as pool:
        leader = pool.submit(sends[0])
        wait_until(lambda: len(begun) == 1 or leader.done())
        assert not leader.done(), leader.result().text
        followers = [pool.submit(send) for send in sends[1:]]
        wait_until(lambda: group.waiting() == len(followers))
        release.set()
        answers = [future.result() for future in [leader, *followers]]
    return answers, begun


def _bodies(room: Room) -> list[str | None]:  # noqa: F811
    with room.instance.sessions() as session:
        return list(session.scalars(select(ChatEvent.body).order_by(ChatEvent.seq)))


#: On SQLite only: its one writer lock is what makes them queue.
ON_SQLITE = pytest.mark.parametrize("room", ["sqlite"], indirect=True)


@ON_SQLITE
def test_sends_arriving_together_share_one_transaction(room: Room) -> None:  # noqa: F811
    before = room.instance.message_commits.batch_sizes[:]
    sends = [
        _send(room, name, room.room_id, f"g{n}", f"संदेश {n}")
        for n, name in enumerate(("hc.a1", "si.a1", "ct.a1", "hc.a1"))
    ]
    answers, begun = _together(room, sends)
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({a.json()["event_id"] for a in answers}) == 4
    assert len(begun) == 2  # the leader's send, then the three that queued behind it
    assert room.instance.message_commits.batch_sizes[len(before) :] == [1, 3]
    landed = _bodies(room)
    assert sorted(b for b in landed if b and b.startswith("संदेश")) == [f"संदेश {n}" for n in range(4)]
    # A repeat of a transaction id is the first send's event, as outside a batch.
    again = _send(room, "hc.a1", room.room_id, "g0", "संदेश 0")()
    assert again.json()["event_id"] == answers[0].json()["event_id"]


@ON_SQLITE
def test_a_send_refused_in_the_batch_fails_alone(room: Room) -> None:  # noqa: F811
    with room.instance.sessions() as session:
        audited = session.scalar(
            select(func.count()).where(AuditRecord.action == "chat.message.send")
        )
    elsewhere = "!nowhere:" + room.room_id.split(":", 1)[1]
    sends = [
        _send(room, "hc.a1", room.room_id, "r0", "पहला"),
        _send(room, "si.a1", elsewhere, "r1", "कहीं नहीं"),
        _send(room, "ct.a1", room.room_id, "r2", "तीसरा"),
    ]
    answers, begun = _together(room, sends)
    codes = [a.status_code for a in answers]
    assert codes[0] == codes[2] == 200, [a.text for a in answers]
    alone = _send(room, "si.a1", elsewhere, "r3", "कहीं नहीं")()
    assert codes[1] == alone.status_code != 200  # the same answer as a send on its own
    assert answers[1].json() == alone.json()
    assert len(begun) == 3  # the leader; the two together, rolled back; then in savepoints
    landed = _bodies(room)
    assert "पहला" in landed and "तीसरा" in landed and "कहीं नहीं" not in landed
    with room.instance.sessions() as session:
        now = session.scalar(select(func.count()).where(AuditRecord.action == "chat.message.send"))
    assert now == (audited or 0) + 2
