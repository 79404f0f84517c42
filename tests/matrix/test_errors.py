"""The Matrix error format and bad input, over plain HTTP against a real ``polaris serve``:
every refusal is ``{"errcode": "M_…", "error": "…"}`` with the right status, never a 500."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from polaris.clock import utcnow
from polaris.config import load_settings
from polaris.identity.models import UserSession
from polaris.identity.tokens import digest
from polaris.instance import open_instance
from tests.live_server import Server
from tests.matrix.conftest import (
    UPLOAD_LIMIT,
    audit_records,
    call,
    password_login,
    patched_environment,
)

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

SERVER = "polaris.test"
WHOAMI = "/_matrix/client/v3/account/whoami"


@pytest.fixture(scope="module")
def token(matrix_server: Server) -> str:
    status, body = password_login(matrix_server, "hc.gone")
    assert status == 200, body
    return str(body["access_token"])


def test_a_missing_token_and_an_unknown_one(matrix_server: Server) -> None:
    status, body = call(matrix_server, "GET", WHOAMI)
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = call(matrix_server, "GET", WHOAMI, token="not-a-token")
    assert status == 401
    assert body == {
        "errcode": "M_UNKNOWN_TOKEN",
        "error": "unknown or expired access token",
        "soft_logout": False,
    }


def test_a_browser_session_is_not_a_matrix_token(matrix_server: Server) -> None:
    status, headers, _ = matrix_server.request(
        "POST",
        "/api/v1/auth/login",
        body=json.dumps({"username": "hc.b1", "password": "correct horse battery staple"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    cookie = next(
        value.split(";")[0].partition("=")[2]
        for value in headers.get_all("set-cookie") or []
        if value.startswith("polaris_session=")
    )
    status, body = call(matrix_server, "GET", WHOAMI, token=cookie)
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


def _session_row(server: Server, token: str, **values: object) -> UserSession:
    """The session row of the access token in the server's database, ``values`` set first."""
    with patched_environment(server.env):
        instance = open_instance(load_settings(server.data_dir))
    try:
        with instance.sessions() as session:
            row = session.get(UserSession, digest(token))
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)
            session.commit()
            return row
    finally:
        instance.close()


def test_an_idle_access_token_is_refused_and_its_session_recorded_ended(
    matrix_server: Server,
) -> None:
    status, body = password_login(matrix_server, "hc.b1")
    assert status == 200, body
    token = str(body["access_token"])
    assert call(matrix_server, "GET", WHOAMI, token=token)[0] == 200
    _session_row(matrix_server, token, last_seen_at=utcnow() - dt.timedelta(hours=1))
    for _ in range(2):
        status, body = call(matrix_server, "GET", WHOAMI, token=token)
        assert status == 401
        assert body == {
            "errcode": "M_UNKNOWN_TOKEN",
            "error": "unknown or expired access token",
            "soft_logout": False,
        }
        row = _session_row(matrix_server, token)
        assert row.ended_at is not None and row.end_reason == "idle"


def test_sync_resolves_its_caller_before_anything_else(matrix_server: Server, token: str) -> None:
    """``/sync`` resolves its caller inside its first look (no ``Matrix`` dependency): a missing
    or unknown token is refused before its ``since`` is read, as on every other route."""
    sync = "/_matrix/client/v3/sync?since=not-a-token&timeout=0"
    status, body = call(matrix_server, "GET", sync)
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    status, body = call(matrix_server, "GET", sync, token="not-a-token")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, body = call(matrix_server, "GET", sync, token=token)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


def test_unknown_endpoints_are_unrecognised(matrix_server: Server, token: str) -> None:
    for method, path in (
        ("GET", "/_matrix/client/v3/no/such/thing"),
        ("POST", "/_matrix/client/v3/createRoomX"),
        ("DELETE", "/_matrix/client/versions"),
        ("GET", "/_matrix/federation/v1/version"),
    ):
        status, body = call(matrix_server, method, path, token=token)
        assert (status, body["errcode"]) == (404, "M_UNRECOGNIZED"), (method, path)


@pytest.mark.parametrize(
    ("raw", "errcode"),
    [
        (b"{not json", "M_NOT_JSON"),
        (b"\xff\xfe", "M_NOT_JSON"),
        (b"[1, 2]", "M_BAD_JSON"),
        (b'{"a": NaN}', "M_NOT_JSON"),
        (b'{"a": "nul \\u0000 here"}', "M_BAD_JSON"),
        (b'{"\\u0000": 1}', "M_BAD_JSON"),
        (b'{"a": 9223372036854775808}', "M_BAD_JSON"),
        (b'{"a": -9007199254740992}', "M_BAD_JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "M_NOT_JSON"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "M_BAD_JSON"),
    ],
)
def test_bad_json_is_a_clear_matrix_error(
    matrix_server: Server, token: str, raw: bytes, errcode: str
) -> None:
    path = f"/_matrix/client/v3/user/@hc.gone:{SERVER}/account_data/x.test"
    status, body = call(matrix_server, "PUT", path, raw=raw, token=token)
    assert (status, body["errcode"]) == (400, errcode), body
    status, body = call(matrix_server, "POST", "/_matrix/client/v3/login", raw=raw)
    assert (status, body["errcode"]) == (400, errcode), body


def test_a_huge_body_is_too_large(matrix_server: Server, token: str) -> None:
    path = f"/_matrix/client/v3/user/@hc.gone:{SERVER}/filter"
    huge = b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, body = call(matrix_server, "POST", path, raw=huge, token=token)
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")


def test_ids_past_the_range_are_not_found(matrix_server: Server, token: str) -> None:
    base = f"/_matrix/client/v3/user/@hc.gone:{SERVER}/filter/"
    for filter_id in (
        "9223372036854775808",
        "18446744073709551617" * 3,
        "-1",
        "%E0%A5%A7%E0%A5%A8",
        "0",
    ):
        status, body = call(matrix_server, "GET", base + filter_id, token=token)
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND"), filter_id
    status, body = call(
        matrix_server, "GET", f"/_matrix/client/v1/media/download/{SERVER}/{'A' * 5000}",
        token=token,
    )  # fmt: skip
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


def test_a_nul_or_bad_utf8_in_the_path_is_refused(matrix_server: Server, token: str) -> None:
    for path in (
        f"/_matrix/client/v3/user/@hc.gone:{SERVER}/account_data/a%00b",
        f"/_matrix/client/v3/user/@hc.gone:{SERVER}/account_data/a%FFb",
    ):
        status, body = call(matrix_server, "PUT", path, {"x": 1}, token=token)
        assert status == 400, (path, body)
        assert str(body["errcode"]).startswith("M_"), body


def test_login_input_is_checked(matrix_server: Server) -> None:
    path = "/_matrix/client/v3/login"
    status, body = call(matrix_server, "POST", path, {"type": "m.login.sso"})
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")
    status, body = call(
        matrix_server, "POST", path,
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": 5},
         "password": "x"},
    )  # fmt: skip
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = call(
        matrix_server, "POST", path,
        {"type": "m.login.password", "identifier": {"type": "m.id.thirdparty"}, "password": "x"},
    )  # fmt: skip
    assert (status, body["errcode"]) == (400, "M_UNKNOWN")


def test_profile_changes_and_own_push_rules_are_refused(matrix_server: Server, token: str) -> None:
    status, body = call(
        matrix_server, "PUT", f"/_matrix/client/v3/profile/@hc.gone:{SERVER}/displayname",
        {"displayname": "x"}, token=token,
    )  # fmt: skip
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = call(
        matrix_server, "PUT", "/_matrix/client/v3/pushrules/global/content/mine",
        {"actions": ["notify"], "pattern": "x"}, token=token,
    )  # fmt: skip
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    rules = f"/_matrix/client/v3/user/@hc.gone:{SERVER}/account_data/m.push_rules"
    status, body = call(matrix_server, "PUT", rules, {"global": {}}, token=token)
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")


def test_key_endpoints_are_stubs_and_cors_is_open(matrix_server: Server, token: str) -> None:
    status, body = call(matrix_server, "POST", "/_matrix/client/v3/keys/upload", {}, token=token)
    assert (status, body) == (200, {"one_time_key_counts": {}})
    status, body = call(
        matrix_server, "POST", "/_matrix/client/v3/keys/query", {"device_keys": {}}, token=token
    )
    assert (status, body) == (200, {"device_keys": {}, "failures": {}})
    status, body = call(
        matrix_server, "GET", "/_matrix/client/v3/thirdparty/protocols", token=token
    )
    assert (status, body) == (200, {})
    status, headers, _ = matrix_server.request("OPTIONS", WHOAMI, headers={"Origin": "https://e"})
    assert status == 204 and headers["access-control-allow-origin"] == "*"


def test_throttled_logins_say_when_to_retry(matrix_server: Server) -> None:
    statuses = []
    for _ in range(30):
        status, body = password_login(matrix_server, "hc.throttled", "wrong")
        statuses.append(status)
        if status == 429:
            assert body["errcode"] == "M_LIMIT_EXCEEDED"
            assert isinstance(body["retry_after_ms"], int) and body["retry_after_ms"] >= 1000
            return
        assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    pytest.fail(f"never throttled: {statuses}")


def test_media_answers_and_audits_alike_when_refused(matrix_server: Server, token: str) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    status, body = call(
        matrix_server, "POST", "/_matrix/media/v3/upload?filename=photo.png", raw=png,
        token=token, headers={"Content-Type": "image/png"},
    )  # fmt: skip
    assert status == 200, body
    media_id = str(body["content_uri"]).rsplit("/", 1)[1]
    status, _, data = matrix_server.request(
        "GET", f"/_matrix/client/v1/media/thumbnail/{SERVER}/{media_id}?width=32&height=32",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert (status, data) == (200, png)
    status, body = call(matrix_server, "GET", f"/_matrix/media/v3/download/{SERVER}/{media_id}")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
    answers = set()
    for path in (
        f"/_matrix/client/v1/media/download/elsewhere.example/{media_id}",
        f"/_matrix/client/v1/media/download/{SERVER}/{'B' * 24}",
        f"/_matrix/media/v3/download/{SERVER}/{'B' * 24}/name.png",
    ):
        status, _, answer = matrix_server.request(
            "GET", path, headers={"Authorization": f"Bearer {token}"}
        )
        answers.add((status, answer))
    assert answers == {(404, b'{"errcode":"M_NOT_FOUND","error":"media not found"}')}
    refused = [r for r in audit_records(matrix_server, "media.read") if r.reason == "missing"]
    assert {r.object_id for r in refused} >= {"B" * 24, f"elsewhere.example/{media_id}"}
    assert all(r.decision == "deny" for r in refused)
    status, body = call(
        matrix_server, "POST", "/_matrix/media/v3/upload", raw=b"x" * (UPLOAD_LIMIT + 1),
        token=token,
    )  # fmt: skip
    assert (status, body["errcode"]) == (413, "M_TOO_LARGE")
    status, body = call(
        matrix_server, "GET", f"/_matrix/client/v1/media/thumbnail/{SERVER}/{'C' * 24}",
        token=token,
    )  # fmt: skip
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


def test_device_names_take_joiners_and_refuse_control_characters(
    matrix_server: Server, token: str
) -> None:
    status, me = call(matrix_server, "GET", WHOAMI, token=token)
    assert status == 200
    path = f"/_matrix/client/v3/devices/{me['device_id']}"
    joined = "क्\u200dष थाना"  # a zero-width joiner, as Indian scripts use
    status, _ = call(matrix_server, "PUT", path, {"display_name": joined}, token=token)
    assert status == 200
    status, device = call(matrix_server, "GET", path, token=token)
    assert (status, device["display_name"]) == (200, joined)
    status, body = call(matrix_server, "PUT", path, {"display_name": "a\u0007b"}, token=token)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = call(
        matrix_server, "GET", "/_matrix/client/v3/devices/NOSUCHDEVICE", token=token
    )
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


def test_deleting_a_device_asks_for_the_password(matrix_server: Server, token: str) -> None:
    status, me = call(matrix_server, "GET", WHOAMI, token=token)
    path = f"/_matrix/client/v3/devices/{me['device_id']}"
    status, body = call(matrix_server, "DELETE", path, token=token)
    assert status == 401
    assert body["flows"] == [{"stages": ["m.login.password"]}] and "errcode" not in body
    wrong = {"auth": {"type": "m.login.password", "password": "nope", "session": body["session"]}}
    status, body = call(matrix_server, "DELETE", path, wrong, token=token)
    assert (status, body["errcode"]) == (401, "M_FORBIDDEN") and "flows" in body
    assert "soft_logout" not in body
    assert call(matrix_server, "GET", WHOAMI, token=token)[0] == 200  # still signed in
    failed = audit_records(matrix_server, "auth.reauthenticate_failed")
    assert any(r.decision == "deny" and r.reason == "bad_password" for r in failed), failed
