"""Bad input to the room and sync endpoints, over plain HTTP against a real ``polaris serve``.

A room that does not exist and one the caller is not in answer the very same ``403 M_FORBIDDEN``
body (Synapse's answer for a room one is not in), each audited as a denial; an event one may not
see answers like a missing one. Nothing here is a 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.factories import PASSWORD
from tests.live_server import Server
from tests.matrix.conftest import audit_records, call

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

SERVER = "polaris.test"
V3 = "/_matrix/client/v3"


def login(server: Server, username: str) -> str:
    status, body = call(
        server, "POST", f"{V3}/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": username},
            "password": PASSWORD,
            "initial_device_display_name": "errors test",
        },
    )  # fmt: skip
    assert status == 200, body
    return str(body["access_token"])


@pytest.fixture(scope="module")
def officers(matrix_server: Server) -> Iterator[dict[str, str]]:
    tokens = {name: login(matrix_server, name) for name in ("hc.a1", "hc.b1")}
    yield tokens
    for token in tokens.values():
        call(matrix_server, "POST", f"{V3}/logout", {}, token=token)


@pytest.fixture(scope="module")
def room(matrix_server: Server, officers: dict[str, str]) -> tuple[str, str]:
    """A room of hc.a1 alone, and one of its messages."""
    status, body = call(
        matrix_server, "POST", f"{V3}/createRoom", {"name": "केवल मैं"}, token=officers["hc.a1"]
    )
    assert status == 200, body
    room_id = str(body["room_id"])
    status, sent = call(
        matrix_server, "PUT", f"{V3}/rooms/{room_id}/send/m.room.message/m1",
        {"msgtype": "m.text", "body": "private"}, token=officers["hc.a1"],
    )  # fmt: skip
    assert status == 200, sent
    return room_id, str(sent["event_id"])


def q(value: str) -> str:
    return quote(value, safe="")


def test_a_missing_room_and_a_room_one_is_not_in_answer_alike(
    matrix_server: Server, officers: dict[str, str], room: tuple[str, str]
) -> None:
    room_id, event_id = room
    token = officers["hc.b1"]
    me = f"@hc.b1:{SERVER}"
    missing = f"!999999:{SERVER}"
    requests = [
        ("GET", "/rooms/{}/messages", None),
        ("GET", "/rooms/{}/state", None),
        ("GET", "/rooms/{}/state/m.room.name/", None),
        ("GET", "/rooms/{}/members", None),
        ("GET", "/rooms/{}/joined_members", None),
        ("POST", "/rooms/{}/join", {}),
        ("POST", "/rooms/{}/leave", {}),
        ("POST", "/rooms/{}/invite", {"user_id": me}),
        ("PUT", "/rooms/{}/send/m.room.message/t1", {"msgtype": "m.text", "body": "x"}),
        ("PUT", "/rooms/{}/state/m.room.name/", {"name": "taken"}),
        ("PUT", f"/rooms/{{}}/typing/{q(me)}", {"typing": True, "timeout": 1000}),
    ]
    before = len(audit_records(matrix_server, "chat_room.read"))
    for method, template, body in requests:
        answers = []
        for target in (room_id, missing):
            status, answer = call(
                matrix_server, method, V3 + template.format(q(target)), body, token=token
            )
            answers.append((status, answer.get("errcode"), str(answer.get("error", ""))))
        other, gone = answers
        assert other[:2] == (403, "M_FORBIDDEN"), (template, other)
        assert other[2].replace(room_id, "R") == gone[2].replace(missing, "R"), template
    assert len(audit_records(matrix_server, "chat_room.read")) > before
    # Malformed room ids are rooms nobody is in.
    for target in ("!abc:" + SERVER, "!1:elsewhere.example", "not-a-room", "!" + "9" * 40):
        status, answer = call(matrix_server, "GET", f"{V3}/rooms/{q(target)}/messages", token=token)
        assert (status, answer["errcode"]) == (403, "M_FORBIDDEN"), target
    # An event of a room one is not in looks like a missing event.
    for path in (f"/rooms/{q(room_id)}/event/{q(event_id)}", f"/rooms/{q(room_id)}/event/$nope"):
        status, answer = call(matrix_server, "GET", V3 + path, token=token)
        assert (status, answer) == (
            404,
            {"errcode": "M_NOT_FOUND", "error": "Could not find event"},
        )


def test_bad_bodies_and_parameters(
    matrix_server: Server, officers: dict[str, str], room: tuple[str, str]
) -> None:
    room_id, _ = room
    token = officers["hc.a1"]
    send = f"{V3}/rooms/{q(room_id)}/send/m.room.message/"
    cases = [
        (send + "b1", b"{not json", 400, "M_NOT_JSON"),
        (send + "b2", b"[1, 2]", 400, "M_BAD_JSON"),
        (send + "b3", json.dumps({"body": "no msgtype"}).encode(), 400, "M_BAD_JSON"),
        (send + "b4", json.dumps({"msgtype": "m.text", "body": 5}).encode(), 400, "M_BAD_JSON"),
        (send + "b5", json.dumps({"msgtype": "m.location", "body": "x"}).encode(), 400,
         "M_BAD_JSON"),
        (send + "b6", json.dumps({"msgtype": "m.text", "body": "   "}).encode(), 400,
         "M_BAD_JSON"),
        (send + "b7", json.dumps({"msgtype": "m.text", "body": "x" * 20_000}).encode(), 400,
         "M_BAD_JSON"),
        (send + "b8", b'{"msgtype": "m.text", "body": "a\\u0000b"}', 400, "M_BAD_JSON"),
        (send + "b9", json.dumps({"msgtype": "m.file", "body": "f",
                                  "url": f"mxc://{SERVER}/nothing"}).encode(), 404,
         "M_NOT_FOUND"),
        (send + "b10", b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413, "M_TOO_LARGE"),
        (f"{V3}/createRoom", json.dumps({"name": "\u202eevil"}).encode(), 400, "M_BAD_JSON"),
        (f"{V3}/createRoom", json.dumps({"invite": [f"@nobody:{SERVER}"]}).encode(), 404,
         "M_NOT_FOUND"),
        (f"{V3}/createRoom", json.dumps({"preset": "public_chat"}).encode(), 400,
         "M_INVALID_PARAM"),
        (f"{V3}/createRoom", json.dumps({"invite": "x"}).encode(), 400, "M_BAD_JSON"),
    ]  # fmt: skip
    for path, raw, status_wanted, errcode in cases:
        method = "POST" if path.endswith("createRoom") else "PUT"
        status, answer = call(matrix_server, method, path, raw=raw, token=token)
        assert (status, answer.get("errcode")) == (status_wanted, errcode), (path, answer)
    for path, errcode in (
        (f"{V3}/sync?since=garbage", "M_INVALID_PARAM"),
        (f"{V3}/sync?timeout=-5", "M_BAD_JSON"),
        (f"{V3}/sync?timeout=abc", "M_BAD_JSON"),
        (f"{V3}/sync?timeout=1000000001", "M_BAD_JSON"),
        (f"{V3}/sync?timeout=%D9%A3", "M_BAD_JSON"),  # an Arabic-Indic three: not ASCII
        (f"{V3}/sync?full_state=maybe", "M_BAD_JSON"),
        (f"{V3}/sync?since={'s1_' + '9' * 70}", "M_BAD_JSON"),
        (f"{V3}/sync?set_presence={'x' * 33}", "M_BAD_JSON"),
        (f"{V3}/rooms/{q(room_id)}/messages?dir=sideways", "M_BAD_JSON"),
        (f"{V3}/rooms/{q(room_id)}/messages?limit=abc", "M_BAD_JSON"),
    ):
        status, answer = call(matrix_server, "GET", path, token=token)
        assert (status, answer.get("errcode")) == (400, errcode), (path, answer)
    # A long-poll that may wait is looked at with the others' (``matrix.sync_batch``): the same
    # answers, in the same order (who calls, then the token).
    for path, who, wanted in (
        (f"{V3}/sync?since=s1_0&timeout=5", None, (401, "M_MISSING_TOKEN")),
        (f"{V3}/sync?since=s1_0&timeout=5", "forged-token", (401, "M_UNKNOWN_TOKEN")),
        (f"{V3}/sync?since=garbage&timeout=5", "forged-token", (401, "M_UNKNOWN_TOKEN")),
        (f"{V3}/sync?since=garbage&timeout=5", token, (400, "M_INVALID_PARAM")),
    ):
        status, answer = call(matrix_server, "GET", path, token=who)
        assert (status, answer.get("errcode")) == wanted, (path, who, answer)
    for path in (f"{V3}/sync?since=%FF", f"{V3}/sync?filter=%C3%28"):  # bytes that are not UTF-8
        status, answer = call(matrix_server, "GET", path, token=token)
        assert (status, answer.get("errcode")) == (400, "M_INVALID_PARAM"), (path, answer)
    status, answer = call(
        matrix_server, "GET", f"{V3}/sync?full_state=TRUE&timeout=00&set_presence=online",
        token=token,
    )  # fmt: skip
    assert status == 200 and room_id in answer["rooms"]["join"], answer  # type: ignore[index]
    status, answer = call(
        matrix_server, "POST", f"{V3}/join/{q('#room:' + SERVER)}", {}, token=token
    )
    assert (status, answer["errcode"]) == (404, "M_NOT_FOUND")
    status, answer = call(
        matrix_server, "PUT", f"{V3}/rooms/{q(room_id)}/typing/{q('@hc.b1:' + SERVER)}",
        {"typing": True}, token=token,
    )  # fmt: skip
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")
    status, answer = call(
        matrix_server, "PUT", f"{V3}/rooms/{q(room_id)}/state/m.room.power_levels/",
        {"users": {}}, token=token,
    )  # fmt: skip
    assert (status, answer["errcode"]) == (403, "M_FORBIDDEN")


def test_a_repeated_transaction_id_for_another_room_is_refused(
    matrix_server: Server, officers: dict[str, str], room: tuple[str, str]
) -> None:
    del room  # its message used the transaction id m1
    token = officers["hc.a1"]
    status, other = call(matrix_server, "POST", f"{V3}/createRoom", {"name": "दूसरा"}, token=token)
    assert status == 200
    status, answer = call(
        matrix_server, "PUT", f"{V3}/rooms/{q(str(other['room_id']))}/send/m.room.message/m1",
        {"msgtype": "m.text", "body": "again"}, token=token,
    )  # fmt: skip
    assert (status, answer.get("errcode")) == (400, "M_INVALID_PARAM"), answer
    assert answer["error"] == "this transaction id was used for another room"


def test_a_sync_filter_sets_the_timeline_limit(
    matrix_server: Server, officers: dict[str, str], room: tuple[str, str]
) -> None:
    room_id, event_id = room
    token = officers["hc.a1"]
    inline = q(json.dumps({"room": {"timeline": {"limit": 1}}}))
    status, body = call(matrix_server, "GET", f"{V3}/sync?filter={inline}", token=token)
    assert status == 200, body
    timeline = body["rooms"]["join"][room_id]["timeline"]
    assert [e["event_id"] for e in timeline["events"]] == [event_id] and timeline["limited"]
    status, made = call(
        matrix_server, "POST", f"{V3}/user/{q('@hc.a1:' + SERVER)}/filter",
        {"room": {"timeline": {"limit": 2}}}, token=token,
    )  # fmt: skip
    assert status == 200
    status, body = call(matrix_server, "GET", f"{V3}/sync?filter={made['filter_id']}", token=token)
    assert status == 200 and len(body["rooms"]["join"][room_id]["timeline"]["events"]) == 2
    for given, errcode in (("999999", "M_NOT_FOUND"), (q("{bad"), "M_NOT_JSON")):
        status, body = call(matrix_server, "GET", f"{V3}/sync?filter={given}", token=token)
        assert body.get("errcode") == errcode, (given, body)


def test_room_account_data_is_the_members_own(
    matrix_server: Server, officers: dict[str, str], room: tuple[str, str]
) -> None:
    room_id, _ = room
    me, other = f"@hc.a1:{SERVER}", f"@hc.b1:{SERVER}"
    path = f"{V3}/user/{q(me)}/rooms/{q(room_id)}/account_data/org.example.note"
    status, _ = call(matrix_server, "PUT", path, {"note": "टिप्पणी"}, token=officers["hc.a1"])
    assert status == 200
    status, body = call(matrix_server, "GET", path, token=officers["hc.a1"])
    assert (status, body) == (200, {"note": "टिप्पणी"})
    status, body = call(matrix_server, "GET", f"{V3}/sync", token=officers["hc.a1"])
    data = body["rooms"]["join"][room_id]["account_data"]["events"]
    assert {"type": "org.example.note", "content": {"note": "टिप्पणी"}} in data
    status, body = call(matrix_server, "GET", path, token=officers["hc.b1"])
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")  # another user's
    theirs = f"{V3}/user/{q(other)}/rooms/{q(room_id)}/account_data/org.example.note"
    status, body = call(matrix_server, "PUT", theirs, {"x": 1}, token=officers["hc.b1"])
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")  # a room hc.b1 is not in
    assert body["error"] == f"User {other} not in room {room_id}"


def test_a_send_answers_in_the_order_credentials_type_body(
    matrix_server: Server, officers: dict[str, str], room: tuple[str, str]
) -> None:
    """The send resolves its caller in its own thread call (no dependency): who calls is still
    decided first, then the event type, then the body."""
    room_id = room[0]
    token = officers["hc.a1"]
    base = f"{V3}/rooms/{q(room_id)}/send"
    cases = [
        (f"{base}/m.room.encrypted/o1", b"{not json", None, 401, "M_MISSING_TOKEN"),
        (f"{base}/m.room.encrypted/o2", b"{not json", "forged-token", 401, "M_UNKNOWN_TOKEN"),
        (f"{base}/m.room.encrypted/o3", b"{not json", token, 403, "M_FORBIDDEN"),
        (f"{base}/m.reaction/o4", b"{not json", token, 403, "M_FORBIDDEN"),
        (f"{base}/m.room.message/o5", b"{not json", token, 400, "M_NOT_JSON"),
        (f"{base}/m.room.message/o6", b"[1]", token, 400, "M_BAD_JSON"),
    ]
    for path, raw, who, status_wanted, errcode in cases:
        status, answer = call(matrix_server, "PUT", path, raw=raw, token=who)
        assert (status, answer.get("errcode")) == (status_wanted, errcode), (path, answer)
    status, answer = call(
        matrix_server, "PUT", f"{base}/m.room.message/o7",
        {"msgtype": "m.text", "body": "क्रम ठीक है"}, token=token,
    )  # fmt: skip
    assert status == 200 and str(answer["event_id"]).startswith("$"), answer
