"""``/sync`` filters and read markers over plain HTTP against a real ``polaris serve`` (SQLite
and PostgreSQL): lazy-loaded members on the initial and on an incremental sync, with the room's
summary; ``types`` and ``not_types`` (with ``*``) on the timeline and the state; filters of the
wrong shape refused when uploaded and when given inline; an ``m.fully_read`` marker set by one
device reaching a long-poll of the same user's other device at once, and nobody else's sync.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.live_server import Server
from tests.matrix.conftest import call
from tests.matrix.test_rooms_errors import SERVER, V3, login, q

pytestmark = pytest.mark.slow

LAZY = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 1}}}


@pytest.fixture(scope="module")
def tokens(matrix_server: Server) -> Iterator[dict[str, str]]:
    made = {name: login(matrix_server, name) for name in ("hc.a1", "hc.b1")}
    made["hc.a1 phone"] = login(matrix_server, "hc.a1")
    yield made
    for token in made.values():
        call(matrix_server, "POST", f"{V3}/logout", {}, token=token)


def send(server: Server, token: str, room_id: str, txn: str, text: str) -> str:
    status, body = call(
        server, "PUT", f"{V3}/rooms/{q(room_id)}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": text}, token=token,
    )  # fmt: skip
    assert status == 200, body
    return str(body["event_id"])


@pytest.fixture(scope="module")
def room(matrix_server: Server, tokens: dict[str, str]) -> str:
    """hc.a1's room with hc.b1 joined and sho.m invited; the last message is hc.b1's."""
    status, body = call(
        matrix_server, "POST", f"{V3}/createRoom",
        {"name": "छँटाई दल", "invite": [f"@hc.b1:{SERVER}", f"@sho.m:{SERVER}"]},
        token=tokens["hc.a1"],
    )  # fmt: skip
    assert status == 200, body
    room_id = str(body["room_id"])
    status, _ = call(matrix_server, "POST", f"{V3}/join/{q(room_id)}", {}, token=tokens["hc.b1"])
    assert status == 200
    send(matrix_server, tokens["hc.a1"], room_id, "f1", "पहला")
    send(matrix_server, tokens["hc.b1"], room_id, "f2", "दूसरा")
    return room_id


def sync(server: Server, token: str, query: str = "") -> dict[str, Any]:
    status, body = call(server, "GET", f"{V3}/sync?{query}", token=token)
    assert status == 200, body
    return body


def members_in(section: dict[str, Any]) -> set[str]:
    return {e["state_key"] for e in section["state"]["events"] if e["type"] == "m.room.member"}


def test_lazy_loaded_members_and_the_summary(
    matrix_server: Server, tokens: dict[str, str], room: str
) -> None:
    a1, b1, sho = (f"@{name}:{SERVER}" for name in ("hc.a1", "hc.b1", "sho.m"))
    limit_1 = {"room": {"timeline": {"limit": 1}}}
    full = sync(matrix_server, tokens["hc.a1"], "filter=" + q(json.dumps(limit_1)))
    assert members_in(full["rooms"]["join"][room]) == {a1, b1, sho}  # no lazy-loading
    lazy = sync(matrix_server, tokens["hc.a1"], "filter=" + q(json.dumps(LAZY)))
    joined = lazy["rooms"]["join"][room]
    assert [e["sender"] for e in joined["timeline"]["events"]] == [b1]
    assert members_in(joined) == {a1, b1}  # the sender's and one's own, not the invited
    summary = joined["summary"]
    assert summary["m.joined_member_count"] == 2 and summary["m.invited_member_count"] == 1
    assert sorted(summary["m.heroes"]) == sorted([b1, sho])
    # Incremental: the new sender's member event comes with their message.
    status, made = call(
        matrix_server, "POST", f"{V3}/user/{q(a1)}/filter", LAZY, token=tokens["hc.a1"]
    )
    assert status == 200
    send(matrix_server, tokens["hc.b1"], room, "f3", "तीसरा")
    later = sync(
        matrix_server, tokens["hc.a1"], f"filter={made['filter_id']}&since={lazy['next_batch']}"
    )["rooms"]["join"][room]
    assert [e["content"]["body"] for e in later["timeline"]["events"]] == ["तीसरा"]
    assert members_in(later) == {a1, b1}
    plain = sync(matrix_server, tokens["hc.a1"], f"since={lazy['next_batch']}")
    assert plain["rooms"]["join"][room]["state"]["events"] == []  # not lazy: no state again


def test_types_and_not_types(matrix_server: Server, tokens: dict[str, str], room: str) -> None:
    only_messages = {
        "room": {
            "timeline": {"types": ["m.room.message"], "limit": 2},
            "state": {"not_types": ["m.room.mem*"]},
        }
    }
    body = sync(matrix_server, tokens["hc.a1"], "filter=" + q(json.dumps(only_messages)))
    joined = body["rooms"]["join"][room]
    assert {e["type"] for e in joined["timeline"]["events"]} == {"m.room.message"}
    assert joined["state"]["events"] and not members_in(joined)
    nothing = {"room": {"timeline": {"not_types": ["*"]}, "state": {"types": []}}}
    empty = sync(matrix_server, tokens["hc.a1"], "filter=" + q(json.dumps(nothing)))
    assert empty["rooms"]["join"][room]["timeline"]["events"] == []
    assert empty["rooms"]["join"][room]["state"]["events"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"room": {"timeline": {"types": "m.room.message"}}},
        {"room": {"timeline": {"types": [1]}}},
        {"room": {"state": {"not_types": [None]}}},
        {"room": {"state": {"lazy_load_members": "yes"}}},
        {"room": {"timeline": {"limit": "5"}}},
        {"room": []},
        {"room": {"timeline": {"types": ["x"] * 101}}},
    ],
)
def test_filters_of_the_wrong_shape_are_refused(
    matrix_server: Server, tokens: dict[str, str], bad: dict[str, Any]
) -> None:
    me = q(f"@hc.a1:{SERVER}")
    status, body = call(matrix_server, "POST", f"{V3}/user/{me}/filter", bad, token=tokens["hc.a1"])
    assert (status, body.get("errcode")) == (400, "M_BAD_JSON"), body
    inline = q(json.dumps(bad))
    status, body = call(matrix_server, "GET", f"{V3}/sync?filter={inline}", token=tokens["hc.a1"])
    assert (status, body.get("errcode")) == (400, "M_BAD_JSON"), body


def test_a_read_marker_reaches_the_users_other_device_at_once(
    matrix_server: Server, tokens: dict[str, str], room: str
) -> None:
    desk, phone, other = tokens["hc.a1"], tokens["hc.a1 phone"], tokens["hc.b1"]
    event_id = send(matrix_server, other, room, "f4", "पढ़ा?")
    since = sync(matrix_server, desk)["next_batch"]
    others_since = sync(matrix_server, other)["next_batch"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(sync, matrix_server, desk, f"since={since}&timeout=60000")
        status, _ = call(
            matrix_server, "POST", f"{V3}/rooms/{q(room)}/read_markers",
            {"m.fully_read": event_id}, token=phone,
        )  # fmt: skip
        assert status == 200
        answer = waiting.result(timeout=60)
    data = answer["rooms"]["join"][room]["account_data"]["events"]
    assert {"type": "m.fully_read", "content": {"event_id": event_id}} in data
    theirs = sync(matrix_server, other, f"since={others_since}&timeout=0")
    assert room not in theirs["rooms"]["join"] or not [
        e for e in theirs["rooms"]["join"][room]["account_data"]["events"]
        if e["type"] == "m.fully_read" and e["content"]["event_id"] == event_id
    ]  # fmt: skip


def test_room_account_data_reaches_the_other_device_once_and_only_when_changed(
    matrix_server: Server, tokens: dict[str, str], room: str
) -> None:
    """A put of room account data wakes the user's other syncs with it; an incremental sync
    after that which brings only a message does not repeat it (Matrix gives what changed)."""
    desk, phone, other = tokens["hc.a1"], tokens["hc.a1 phone"], tokens["hc.b1"]
    me = q(f"@hc.a1:{SERVER}")
    since = sync(matrix_server, desk)["next_batch"]
    tag = {"tags": {"u.केस": {"order": 0.5}}}
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(sync, matrix_server, desk, f"since={since}&timeout=60000")
        status, _ = call(
            matrix_server, "PUT", f"{V3}/user/{me}/rooms/{q(room)}/account_data/m.tag",
            tag, token=phone,
        )  # fmt: skip
        assert status == 200
        answer = waiting.result(timeout=60)
    data = answer["rooms"]["join"][room]["account_data"]["events"]
    assert {"type": "m.tag", "content": tag} in data
    send(matrix_server, other, room, "t-after-tag", "फिर से")
    later = sync(matrix_server, desk, f"since={answer['next_batch']}&timeout=0")
    joined = later["rooms"]["join"][room]
    assert [e["content"]["body"] for e in joined["timeline"]["events"]] == ["फिर से"]
    assert joined["account_data"]["events"] == []
    fresh = sync(matrix_server, desk)  # an initial sync gives it all again
    fresh_data = fresh["rooms"]["join"][room]["account_data"]["events"]
    assert {"type": "m.tag", "content": tag} in fresh_data
