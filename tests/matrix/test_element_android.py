"""Element Android classic's start-up, replayed over plain HTTP against a real ``polaris serve``
(SQLite and PostgreSQL), with the request shapes of its SDK (matrix-android-sdk2, 1.6.x): the
``r0`` and ``unstable`` prefixes it still uses, its password login body, its sync filter
(``lazy_load_members`` on the timeline and the state), the settings it reads after the first
sync, a room's members without those who left, MSC2432's aliases and the key backup it looks for.
Every call answers what the spec expects (a stub where Polaris has nothing): never a 5xx and
never ``M_UNRECOGNIZED`` for one of these.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PASSWORD
from tests.live_server import Server
from tests.matrix.conftest import call
from tests.matrix.test_rooms_errors import SERVER, login, q

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

R0 = "/_matrix/client/r0"
UNSTABLE = "/_matrix/client/unstable"
#: What SyncFilterBuilder().build() gives with Element's defaults.
ANDROID_FILTER = {
    "room": {"timeline": {"lazy_load_members": True}, "state": {"lazy_load_members": True}}
}


def ok(server: Server, method: str, path: str, body: object = None, **kw: Any) -> Any:
    status, answer = call(server, method, path, body, **kw)
    assert status == 200, (method, path, status, answer)
    return answer


def test_element_android_start_up(matrix_server: Server) -> None:
    well_known = ok(matrix_server, "GET", "/.well-known/matrix/client")
    assert "m.homeserver" in well_known
    versions = ok(matrix_server, "GET", "/_matrix/client/versions")
    assert versions["unstable_features"]["m.lazy_load_members"] is True
    flows = ok(matrix_server, "GET", f"{R0}/login")["flows"]
    assert {"type": "m.login.password"} in [{"type": f["type"]} for f in flows]
    logged_in = ok(
        matrix_server, "POST", f"{R0}/login",
        {
            "identifier": {"type": "m.id.user", "user": "hc.a1"},
            "password": PASSWORD,
            "type": "m.login.password",
            "initial_device_display_name": "Element Android",
        },
    )  # fmt: skip
    token, me = str(logged_in["access_token"]), str(logged_in["user_id"])
    assert me == f"@hc.a1:{SERVER}" and logged_in["device_id"]
    other = login(matrix_server, "hc.b1")
    try:
        # The home server's capabilities (GetHomeServerCapabilitiesTask): each change it offers
        # must be said off, or Android assumes it is on.
        capabilities = ok(matrix_server, "GET", f"{R0}/capabilities", token=token)["capabilities"]
        for name in (
            "m.change_password",
            "m.set_displayname",
            "m.set_avatar_url",
            "m.3pid_changes",
        ):
            assert capabilities[name] == {"enabled": False}, name
        assert capabilities["m.room_versions"]["default"]
        for config in ("/_matrix/media/r0/config", "/_matrix/client/v1/media/config"):
            assert ok(matrix_server, "GET", config, token=token)["m.upload.size"] > 0
        made = ok(matrix_server, "POST", f"{R0}/user/{q(me)}/filter", ANDROID_FILTER, token=token)
        filter_id = str(made["filter_id"])
        assert ok(matrix_server, "GET", f"{R0}/user/{q(me)}/filter/{filter_id}", token=token) == (
            ANDROID_FILTER
        )
        first = ok(
            matrix_server, "GET", f"{R0}/sync?filter={filter_id}&timeout=0&set_presence=online",
            token=token,
        )  # fmt: skip
        assert first["next_batch"]
        # What it reads after the first sync.
        rules = ok(matrix_server, "GET", f"{R0}/pushrules/", token=token)
        assert "global" in rules
        assert ok(matrix_server, "GET", f"{R0}/pushers", token=token) == {"pushers": []}
        assert ok(matrix_server, "GET", f"{R0}/profile/{q(me)}", token=token)["displayname"]
        assert ok(matrix_server, "GET", f"{R0}/account/3pid", token=token) == {"threepids": []}
        assert ok(matrix_server, "GET", f"{R0}/devices", token=token)["devices"]
        ok(matrix_server, "POST", f"{R0}/keys/upload", {"one_time_keys": {}}, token=token)
        keys = ok(
            matrix_server, "POST", f"{R0}/keys/query",
            {"device_keys": {me: []}, "timeout": 10000}, token=token,
        )  # fmt: skip
        assert "device_keys" in keys
        status, backup = call(matrix_server, "GET", f"{UNSTABLE}/room_keys/version", token=token)
        assert (status, backup["errcode"]) == (404, "M_NOT_FOUND")  # "no backup", as it expects
        assert ok(matrix_server, "GET", f"{R0}/voip/turnServer", token=token) == {}
        assert ok(matrix_server, "GET", f"{R0}/thirdparty/protocols", token=token) == {}
        presence = ok(matrix_server, "GET", f"{R0}/presence/{q(me)}/status", token=token)
        assert presence["presence"] == "offline"
        ok(
            matrix_server,
            "PUT",
            f"{R0}/presence/{q(me)}/status",
            {"presence": "online"},
            token=token,
        )
        ok(
            matrix_server, "PUT", f"{R0}/user/{q(me)}/account_data/im.vector.analytics",
            {"pseudonymousAnalyticsOptIn": False}, token=token,
        )  # fmt: skip

        # A room made from the app, the other officer joined and writing.
        room = str(
            ok(
                matrix_server, "POST", f"{R0}/createRoom",
                {"visibility": "private", "preset": "private_chat", "name": "एंड्रॉइड दल",
                 "invite": [f"@hc.b1:{SERVER}", f"@sho.m:{SERVER}"], "is_direct": False},
                token=token,
            )["room_id"]
        )  # fmt: skip
        ok(matrix_server, "POST", f"{R0}/join/{q(room)}", {}, token=other)
        sent = ok(
            matrix_server, "PUT", f"{R0}/rooms/{q(room)}/send/m.room.message/android1",
            {"msgtype": "m.text", "body": "नमस्ते from Android"}, token=other,
        )  # fmt: skip
        later = ok(
            matrix_server, "GET",
            f"{R0}/sync?filter={filter_id}&timeout=0&since={first['next_batch']}", token=token,
        )["rooms"]["join"][room]  # fmt: skip
        assert later["summary"]["m.joined_member_count"] == 2
        senders = {e["sender"] for e in later["timeline"]["events"]}
        lazy = {e["state_key"] for e in later["state"]["events"] if e["type"] == "m.room.member"}
        assert lazy <= senders | {me}

        ok(matrix_server, "POST", f"{R0}/rooms/{q(room)}/leave", {}, token=other)
        members = ok(
            matrix_server, "GET",
            f"{R0}/rooms/{q(room)}/members?at={first['next_batch']}&not_membership=leave",
            token=token,
        )["chunk"]  # fmt: skip
        memberships = {e["state_key"]: e["content"]["membership"] for e in members}
        assert memberships == {me: "join", f"@sho.m:{SERVER}": "invite"}  # hc.b1 left
        joined = ok(
            matrix_server, "GET", f"{R0}/rooms/{q(room)}/members?membership=join", token=token
        )["chunk"]  # fmt: skip
        assert {e["state_key"] for e in joined} == {me}
        status, bad = call(
            matrix_server, "GET", f"{R0}/rooms/{q(room)}/members?membership=gone", token=token
        )
        assert (status, bad["errcode"]) == (400, "M_INVALID_PARAM")

        aliases = f"{UNSTABLE}/org.matrix.msc2432/rooms/{q(room)}/aliases"
        assert ok(matrix_server, "GET", aliases, token=token) == {"aliases": []}
        assert ok(matrix_server, "GET", f"{R0}/rooms/{q(room)}/aliases", token=token) == {
            "aliases": []
        }
        mine = str(
            ok(matrix_server, "POST", f"{R0}/createRoom", {"name": "अपना"}, token=token)["room_id"]
        )
        status, refused = call(
            matrix_server, "GET", f"{UNSTABLE}/org.matrix.msc2432/rooms/{q(mine)}/aliases",
            token=other,
        )  # fmt: skip
        nowhere = q(f"!999999:{SERVER}")
        status_missing, missing = call(
            matrix_server, "GET", f"{UNSTABLE}/org.matrix.msc2432/rooms/{nowhere}/aliases",
            token=other,
        )  # fmt: skip
        assert (status, refused["errcode"]) == (status_missing, missing["errcode"]) == (
            403, "M_FORBIDDEN"
        )  # fmt: skip

        ok(
            matrix_server, "POST", f"{R0}/rooms/{q(room)}/read_markers",
            {"m.fully_read": sent["event_id"], "m.read": sent["event_id"]}, token=token,
        )  # fmt: skip
        ok(
            matrix_server, "PUT", f"{R0}/rooms/{q(room)}/typing/{q(me)}",
            {"typing": True, "timeout": 30000}, token=token,
        )  # fmt: skip
    finally:
        call(matrix_server, "POST", f"{R0}/logout", {}, token=other)
    ok(matrix_server, "POST", f"{R0}/logout", {}, token=token)
    status, _ = call(matrix_server, "GET", f"{R0}/account/whoami", token=token)
    assert status == 401
