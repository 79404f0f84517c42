"""The sync: a client resumes from a change-stream position and gets every later message of its
rooms once, in order; a long-poll wakes on a send; a non-member sees nothing of a room; the
WebSocket carries the same events; both carry the open room's typing notices (and a notice wakes
a long-poll); two app instances sharing the database and Redis."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from polaris.chat import events as chat_events
from polaris.chat import live, sync
from polaris.config import load_settings
from polaris.db import make_engine
from tests.chat.web_support import ChatSite, Officer, chat_site, sign_in
from tests.conftest import PG_SCHEMA
from tests.support.real_app import client_for, migrated, real_instance
from tests.support.redis_server import running_redis

#: A bound on each wait for state (never a timing assertion).
DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatSite]:
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"chat-sync-{backend}")
    with migrated(backend, directory, PG_SCHEMA + "_chat_sync") as url:
        engine = make_engine(url)
        try:
            with chat_site(engine, directory) as made:
                yield made
        finally:
            engine.dispose()


def group(owner: Officer, name: str, *invited: Officer) -> int:
    body = {"name": name, "invite": [o.user_id for o in invited]}
    room_id = int(owner.post("/api/v1/chat/rooms/group", body).json()["id"])
    for officer in invited:
        assert officer.post(f"/api/v1/chat/rooms/{room_id}/join").status_code == 200
    return room_id


def position(officer: Officer) -> int:
    return int(officer.get("/api/v1/chat/rooms").json()["position"])


def catch_up(
    officer: Officer, since: int, until: Callable[[list[dict[str, Any]]], bool] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every change after ``since``, page by page, and the last ``next``. Without ``until``: as
    long as pages come without waiting. With it: long-polls (following ``next``) until ``until``
    holds for what was seen, under the deadline (a send's events may still wait for their
    positions when the first page is read)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        wait = 0 if until is None else 5_000
        response = officer.get("/api/v1/chat/sync", params={"since": since, "timeout": wait})
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page["events"]
        moved = page["next"] != since
        since = page["next"]
        if until is None and not moved:
            return seen, since
        if until is not None and until(seen) and not moved:
            return seen, since
        assert time.monotonic() < deadline, "the changes did not come"


def bodies(changes: list[dict[str, Any]], room_id: int) -> list[str]:
    return [
        c["event"]["body"]
        for c in changes
        if c["kind"] == "chat.message.sent" and c["room_id"] == room_id
    ]


def poll_for_message(officer: Officer, since: int, timeout_ms: int = 30_000) -> dict[str, Any]:
    """Long-poll from ``since`` (following ``next``) until a page holds a sent message; changes
    that committed before the send (a join still waiting for its position) may come first."""
    while True:
        response = officer.get("/api/v1/chat/sync", params={"since": since, "timeout": timeout_ms})
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        if any(c["kind"] == "chat.message.sent" for c in page["events"]) or not page["events"]:
            return page
        since = page["next"]


def socket_headers(officer: Officer, origin: str = "https://testserver") -> dict[str, str]:
    """The test client opens ``ws://`` URLs, where a ``Secure`` cookie is not sent by itself."""
    cookie = officer.client.cookies.get("polaris_session")
    return {"origin": origin, "cookie": f"polaris_session={cookie}"}


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        assert time.monotonic() < deadline, "state not reached"
        time.sleep(0.01)


def test_an_offline_client_gets_every_missed_message_once_in_order(
    site: ChatSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    asha, bala, chand = site["asha"], site["bala"], site["chand"]
    room = group(asha, "resume", bala)
    other = group(asha, "not bala's", chand)
    start = position(bala)
    sent = []
    for n in range(12):
        sent.append(f"संदेश {n}")
        asha.send(room, sent[-1])
        asha.send(other, f"elsewhere {n}")
    monkeypatch.setattr(sync, "SCAN_LIMIT", 5)  # many pages, each ending inside the stream
    changes, last = catch_up(bala, start, lambda seen: len(bodies(seen, room)) >= len(sent))
    assert bodies(changes, room) == sent
    assert not [c for c in changes if c["room_id"] == other]
    positions = [c["position"] for c in changes]
    assert positions == sorted(set(positions))
    again, _ = catch_up(bala, last)
    assert again == []


def test_a_long_poll_wakes_on_a_send(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "wake", bala)
    since = position(bala)
    assert bala.get("/api/v1/chat/sync", params={"timeout": 0}).status_code == 200
    hub: live.Hub = site.app.state.chat_hub
    with ThreadPoolExecutor(1) as pool:
        waiting_before = hub.waiting
        poll = pool.submit(poll_for_message, bala, since)
        wait_until(lambda: hub.waiting > waiting_before or poll.done())
        asha.send(room, "wake up")
        answer = poll.result(timeout=DEADLINE_SECONDS)
    assert bodies(answer["events"], room) == ["wake up"]
    assert answer["users"][str(asha.user_id)] == "Asha"


def test_a_non_member_sees_nothing_of_a_room(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    start = position(dev)
    room = group(asha, "closed", bala)
    asha.send(room, "not for dev")
    dev_room = group(asha, "dev is in this one", dev)
    asha.send(dev_room, "for dev")  # comes after the other room's changes: they were passed over
    changes, _ = catch_up(dev, start, lambda seen: "for dev" in bodies(seen, dev_room))
    assert [c for c in changes if c["room_id"] == room] == []


def test_an_invitation_reaches_the_invited_and_a_kick_the_kicked(site: ChatSite) -> None:
    asha, chand = site["asha"], site["chand"]
    start = position(chand)
    room = group(asha, "invite me")
    asha.post(f"/api/v1/chat/rooms/{room}/invite", {"user_id": chand.user_id})
    asha.send(room, "before joining")
    changes, _ = catch_up(chand, start, lambda seen: any(c["room_id"] == room for c in seen))
    assert [(c["kind"], c["event"]["state_value"]) for c in changes if c["room_id"] == room] == [
        ("chat.member.changed", "invite")
    ]


def test_positions_not_given_out_are_refused(site: ChatSite) -> None:
    asha = site["asha"]
    ahead = asha.get("/api/v1/chat/sync", params={"since": position(asha) + 1000, "timeout": 0})
    assert ahead.status_code == 400 and ahead.json()["code"] == "invalid_position"
    assert asha.get("/api/v1/chat/sync", params={"since": -1}).status_code == 422
    fresh = asha.get("/api/v1/chat/sync").json()
    assert fresh["events"] == [] and fresh["next"] >= 0


def test_the_websocket_carries_the_same_events(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "socket", bala)
    since = position(bala)
    with bala.client.websocket_connect(
        f"/api/v1/chat/ws?since={since}", headers=socket_headers(bala)
    ) as ws:
        asha.send(room, "over the socket")
        seen: list[dict[str, Any]] = []
        while "over the socket" not in bodies(seen, room):
            seen += ws.receive_json()["events"]
    assert bodies(seen, room) == ["over the socket"]


def typing_poll(officer: Officer, since: int, room: int, serial: int | None, timeout: int) -> Any:
    params = {"since": since, "timeout": timeout, "typing_room": room}
    if serial is not None:
        params["typing_serial"] = serial
    response = officer.get("/api/v1/chat/sync", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_sync_carries_the_open_rooms_typing(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    room = group(asha, "typing by sync", bala)
    since = position(bala)
    first = typing_poll(bala, since, room, None, 10_000)  # no serial: told at once
    assert first["typing"]["room_id"] == room and first["typing"]["user_ids"] == []
    serial = first["typing"]["serial"]
    typed = asha.client.put(
        f"/api/v1/chat/rooms/{room}/typing",
        json={"typing": True, "timeout_ms": 20_000},
        headers=asha.headers(),
    )
    assert typed.status_code == 204
    told = typing_poll(bala, since, room, serial, 10_000)
    assert told["typing"]["user_ids"] == [asha.user_id] and told["typing"]["serial"] > serial
    quiet = typing_poll(bala, since, room, told["typing"]["serial"], 0)
    assert quiet["typing"] is None
    # A room one is not in says nothing, with or without a serial.
    assert typing_poll(dev, position(dev), room, None, 0)["typing"] is None
    assert bala.get("/api/v1/chat/sync", params={"typing_room": 0}).status_code == 422
    # A notice wakes a waiting long-poll.
    hub: live.Hub = site.app.state.chat_hub
    serial = told["typing"]["serial"]
    with ThreadPoolExecutor(1) as pool:
        waiting_before = hub.waiting
        poll = pool.submit(typing_poll, bala, quiet["next"], room, serial, 30_000)
        wait_until(lambda: hub.waiting > waiting_before or poll.done())
        asha.client.put(
            f"/api/v1/chat/rooms/{room}/typing", json={"typing": False}, headers=asha.headers()
        )
        woken = poll.result(timeout=DEADLINE_SECONDS)
    assert woken["typing"]["user_ids"] == [] and woken["events"] == []
    # The WebSocket: the room's typing first, then each change.
    with bala.client.websocket_connect(
        f"/api/v1/chat/ws?since={quiet['next']}&typing={room}", headers=socket_headers(bala)
    ) as ws:
        assert ws.receive_json()["typing"]["user_ids"] == []
        asha.client.put(
            f"/api/v1/chat/rooms/{room}/typing",
            json={"typing": True, "timeout_ms": 20_000},
            headers=asha.headers(),
        )
        message = ws.receive_json()
        while not message["typing"] or not message["typing"]["user_ids"]:
            message = ws.receive_json()
        assert message["typing"]["user_ids"] == [asha.user_id]


def test_the_websocket_refuses_another_origin_and_no_session(site: ChatSite) -> None:
    bala = site["bala"]
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        bala.client.websocket_connect(
            "/api/v1/chat/ws", headers={"origin": "https://evil.example"}
        ) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4403
    stranger = TestClient(site.app, base_url="https://testserver")
    with (
        pytest.raises(WebSocketDisconnect) as unknown,
        stranger.websocket_connect(
            "/api/v1/chat/ws", headers={"origin": "https://testserver"}
        ) as ws,
    ):
        ws.receive_json()
    assert unknown.value.code == 4401


def test_two_nodes_sharing_the_database_and_redis(tmp_path: Path) -> None:
    """A long-poll on node B wakes when A commits a send, through Redis alone: B's hub is cut off
    from this process's local wake-up, and its poll interval is longer than the poll's wait."""
    with running_redis() as redis_url, migrated("sqlite", tmp_path, "unused") as url:
        engines = [make_engine(url), make_engine(url)]
        settings = load_settings(tmp_path, jobs={"redis_url": redis_url, "poll_seconds": 120.0})
        b = real_instance(engines[1], tmp_path)
        b.settings = settings
        try:
            with (
                chat_site(engines[0], tmp_path, settings=settings) as site_a,
                client_for(b) as node_b,
            ):
                asha = site_a["asha"]
                app_b: FastAPI = node_b.app  # type: ignore[assignment]
                client, csrf = sign_in(app_b, "bala")
                bala_b = Officer("bala", site_a["bala"].user_id, client, csrf)
                room = group(asha, "two nodes", site_a["bala"])
                since = position(bala_b)
                assert bala_b.get("/api/v1/chat/sync", params={"timeout": 0}).status_code == 200
                hub_b: live.Hub = app_b.state.chat_hub
                chat_events.unlisten(hub_b._wake)  # only Redis may wake B now
                with ThreadPoolExecutor(1) as pool:
                    poll = pool.submit(poll_for_message, bala_b, since, 60_000)
                    wait_until(lambda: hub_b.waiting > 0 or poll.done())
                    asha.send(room, "from node A")
                    answer = poll.result(timeout=90)
                assert bodies(answer["events"], room) == ["from node A"]
        finally:
            for engine in engines:
                engine.dispose()
