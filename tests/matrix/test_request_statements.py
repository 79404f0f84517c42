"""What a Matrix send and a woken ``/sync`` ask of the database, pinned through the whole app.

Over a real engine (``tests.support.real_app``: the transactions production sends), two members
of a room; a send by one, then each member's incremental ``/sync``. The hub is one whose thread
never runs (``app.state.chat_hub``): the test hands it each pass (sequencing, then the copy), so
that no count depends on when its thread ran. The messenger's benchmark (``bench/chat.py``,
docs/chat.md "Benchmark") sends these requests thousands of times a minute: a statement or a
transaction more per request is a cost per delivered event, so the numbers cannot creep back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from polaris.chat import live
from polaris.db import make_engine
from polaris.events import consumers
from polaris.events import service as event_service
from polaris.instance import Instance
from tests.conftest import PG_SCHEMA
from tests.drive.conftest import seed
from tests.factories import PASSWORD
from tests.support.real_app import client_for, migrated, real_instance
from tests.support.statements import Tally, counting

SCHEMA = PG_SCHEMA + "_mxcounts"
MEMBERS = ("hc.a1", "si.a1", "ct.a1")


@dataclass
class Room:
    backend: str
    engine: Engine
    instance: Instance
    client: TestClient
    hub: live.Hub
    tokens: dict[str, str]
    room_id: str

    def call(self, who: str, method: str, path: str, body: object = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response = self.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def counted(self, who: str, method: str, path: str, body: object = None) -> Tally:
        with counting(self.engine) as tally:
            self.call(who, method, path, body)
        return tally

    def catch_up(self) -> None:
        """One pass of the hub: sequence, then read what is new (as ``Hub._advance``)."""
        consumers.sequence_pending(self.instance.sessions)
        with self.instance.sessions() as session:
            head = event_service.head_position(session)
            batch = event_service.since(
                session, after=self.hub.head, kinds=live.KINDS, limit=live.READ_BATCH
            )
        self.hub.absorb([e for e in batch if e.position <= head], head)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def room(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Room]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"matrix-counts-{backend}")
    with migrated(backend, directory, SCHEMA) as url:
        engine = make_engine(url)
        instance = real_instance(engine, directory)
        session = instance.sessions()
        seed(session)
        session.commit()
        session.close()
        try:
            with client_for(instance) as client:
                hub = live.Hub(sessionmaker[Session](), redis_url=None, poll_seconds=1.0)
                client.app.state.chat_hub = hub  # type: ignore[attr-defined]
                tokens = {}
                for name in MEMBERS:
                    response = client.post(
                        "/_matrix/client/v3/login",
                        json={
                            "type": "m.login.password",
                            "identifier": {"type": "m.id.user", "user": name},
                            "password": PASSWORD,
                        },
                    )
                    assert response.status_code == 200, response.text
                    tokens[name] = response.json()["access_token"]
                made = Room(backend, engine, instance, client, hub, tokens, "")
                users = {
                    n: made.call(n, "GET", "/_matrix/client/v3/account/whoami") for n in tokens
                }
                invite = [users[n]["user_id"] for n in MEMBERS[1:]]
                created = made.call(
                    "hc.a1", "POST", "/_matrix/client/v3/createRoom",
                    {"preset": "private_chat", "name": "नाका दल", "invite": invite},
                )  # fmt: skip
                made.room_id = created["room_id"]
                for name in MEMBERS[1:]:
                    made.call(name, "POST", f"/_matrix/client/v3/join/{quote(made.room_id)}", {})
                consumers.sequence_pending(instance.sessions)
                with instance.sessions() as session:
                    hub.absorb(None, event_service.head_position(session))  # the copy starts
                yield made
        finally:
            engine.dispose()


def _texts(answer: dict[str, Any], room_id: str) -> list[str]:
    joined = answer["rooms"]["join"].get(room_id, {})
    return [e["content"]["body"] for e in joined.get("timeline", {}).get("events", [])]


def test_a_send_and_each_woken_sync_cost_a_pinned_number_of_statements(room: Room) -> None:
    syncs = "/_matrix/client/v3/sync"
    since = {n: room.call(n, "GET", f"{syncs}?timeout=0")["next_batch"] for n in MEMBERS[1:]}
    sent = room.counted(
        "hc.a1", "PUT",
        f"/_matrix/client/v3/rooms/{quote(room.room_id)}/send/m.room.message/t1",
        {"msgtype": "m.text", "body": "नाका 7 पर जाँच"},
    )  # fmt: skip
    room.catch_up()
    woken: dict[str, Tally] = {}
    for name in MEMBERS[1:]:
        with counting(room.engine) as tally:
            answer = room.call(name, "GET", f"{syncs}?since={since[name]}&timeout=0")
        assert _texts(answer, room.room_id) == ["नाका 7 पर जाँच"]
        woken[name] = tally
    print(f"{room.backend} send: {sent.describe()}")
    for name, tally in woken.items():
        print(f"{room.backend} sync {name}: {tally.describe()}")
    # The send: the caller (the session with its user, identity stamp and Matrix device, one
    # statement); the message in one write transaction (``tests/chat/test_send_statements.py``).
    assert sent.count <= 10, sent.describe()
    assert sent.write_transactions == 1, sent.describe()
    # A woken sync, read-only throughout, in two transactions: the caller (one statement) and
    # the stream's state (is anything waiting for a position, and the head: one statement) in
    # the first, held for it in the same thread call (``caller.resolve(hold=True)``); then the
    # memberships with their unread counts and rooms (``access``'s facts; the room's account
    # data only when it changed, and the head is the hub's, known committed; a long-poll that
    # may wait does not read the stream's state either). The first member also reads the new rows
    # and their senders, once for every member. (The caller's transaction is never held across
    # a wait for another thread: a request waiting for a thread would hold a pooled
    # connection, and 200 syncs at once exhausted the pool.)
    first, second = (woken[n] for n in MEMBERS[1:])
    for tally in (first, second):
        assert tally.write_transactions == 0, tally.describe()
        assert not tally.writes_in_reads, tally.describe()
        assert tally.read_transactions == 2, tally.describe()
    assert second.count == 3, second.describe()
    assert first.count == 5, first.describe()


def test_a_sync_right_after_a_send_has_it_before_anything_sequenced_it(room: Room) -> None:
    """Read-your-writes: the sync's first look finds the send's event waiting for its position
    and sequences it (the hub has not run), then answers with it, once."""
    syncs = "/_matrix/client/v3/sync"
    since = room.call("si.a1", "GET", f"{syncs}?timeout=0")["next_batch"]
    room.call(
        "si.a1", "PUT",
        f"/_matrix/client/v3/rooms/{quote(room.room_id)}/send/m.room.message/rw1",
        {"msgtype": "m.text", "body": "अभी भेजा"},
    )  # fmt: skip
    with counting(room.engine) as tally:
        answer = room.call("si.a1", "GET", f"{syncs}?since={since}&timeout=0")
    assert _texts(answer, room.room_id) == ["अभी भेजा"]
    assert tally.write_transactions == 1, tally.describe()  # the positions, nothing else
    again = room.call("si.a1", "GET", f"{syncs}?since={answer['next_batch']}&timeout=0")
    assert _texts(again, room.room_id) == []
    room.catch_up()


def test_the_event_runner_moves_past_a_message_in_few_write_transactions(room: Room) -> None:
    """After a send, one pass of the event runner: the consumers that do not take chat events
    (most of them) move their cursors together, in one write transaction."""
    import polaris.handlers  # noqa: F401 - every consumer registered, as in ``polaris serve``

    consumers.run_pass(room.instance.sessions)  # caught up
    room.call(
        "hc.a1", "PUT",
        f"/_matrix/client/v3/rooms/{quote(room.room_id)}/send/m.room.message/er1",
        {"msgtype": "m.text", "body": "धावक"},
    )  # fmt: skip
    room.catch_up()  # sequenced, as the hub does first
    behind = len(consumers.registered_consumers())
    with counting(room.engine) as tally:
        consumers.run_pass(room.instance.sessions)
    print(f"{room.backend} run_pass, {behind} consumers: {tally.describe()}")
    # The idle cursors together, then the message index's batch and the chat notifications'
    # (which take every message, to tell a direct room's other member; it was 18: a batch and
    # an empty next look for each of the 9 consumers). The idle cursors take three statements
    # whatever their number (their rows, the last position of each kind, one UPDATE: it was
    # three each, 50 statements in all).
    assert tally.write_transactions <= 3, tally.describe()
    assert tally.count <= 25, tally.describe()
