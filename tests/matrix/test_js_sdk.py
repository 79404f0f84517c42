"""Two officers converse through matrix-js-sdk — the SDK Element Web is built on — against a real
``polaris serve``, and every endpoint Element Web asks at start answers as the spec says.

The Node script (``js/conversation.mjs``, its pinned SDK in ``js/package.json``, installed by
``scripts/test.sh``) drives the SDK's own sync loop (``startClient`` with lazy-loaded members) and
prints one JSON object; this test asserts it. Every wait in the script is for a sync the SDK makes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD
from tests.live_server import Server
from tests.matrix.conftest import Browser, base_url

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

SCRIPT_DIR = Path(__file__).parent / "js"
ROOM_NAME = "थाना अ — समन्वय (FIR 12/2026)"
A = "@hc.a1:polaris.test"
B = "@hc.b1:polaris.test"


def run_script(server: Server) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (SCRIPT_DIR / "node_modules" / "matrix-js-sdk").is_dir():
        pytest.skip("needs Node.js and tests/matrix/js/node_modules (scripts/test.sh installs it)")
    browser = Browser(server)
    browser.sign_in("hc.a1")
    status, minted = browser.mint_login_token()
    assert status == 201, minted
    env = {
        **os.environ,
        "POLARIS_URL": base_url(server),
        "POLARIS_PASSWORD": PASSWORD,
        "POLARIS_LOGIN_TOKEN": str(minted["login_token"]),
    }
    done = subprocess.run(
        [node, str(SCRIPT_DIR / "conversation.mjs")],
        env=env,
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def test_a_conversation_through_matrix_js_sdk(matrix_server: Server) -> None:
    out = run_script(matrix_server)
    assert out["ok"], out.get("error")
    checks = out["checks"]
    assert checks["discovery"] == "SUCCESS"
    assert checks["e2ee"] == {"force_disable": True, "default": False}
    assert checks["login_flows"] == ["m.login.password", "m.login.sso", "m.login.token"]
    assert checks["whoami"] == [A, B]
    assert checks["wrong_password"] == "403 M_FORBIDDEN"
    assert checks["token_login"] == A
    assert checks["token_reused"] == "403 M_FORBIDDEN"
    assert checks["capabilities"]["m.room_versions"]["default"] == "10"
    assert checks["invited_room_name"] == ROOM_NAME
    assert checks["room_name"] == [ROOM_NAME, ROOM_NAME]
    assert checks["state_name"] == ROOM_NAME
    assert checks["joined_rooms"] is True
    assert checks["members"] == [A, B]
    # A repeated transaction id: one event, shown once at B and once (its local echo) at A.
    assert checks["txn_same_event"] is True
    assert checks["txn_count_at_b"] == 1
    assert checks["own_echo_count_at_a"] == 1
    assert checks["txn_echo_messages"] == ["polaris-js-txn-1", None]
    assert checks["txn_echo_sync"] == ["polaris-js-txn-1", None]
    for name in ("receipt_seen_by_a", "read_marker_stored", "read_marker_synced", "typing"):
        assert checks[name] is True, name
    assert checks["media_download_equal"] is True
    assert checks["media_thumbnail"] == [200, "image/png"]
    assert checks["media_without_token"] == 401
    # A second device's initial sync had 5 events; scrollback reached the room's creation.
    scrollback = checks["scrollback"]
    assert scrollback["before"] == 5
    assert scrollback["create_reached"] is True
    assert scrollback["ordered"] is True
    assert scrollback["first"] == "नमस्ते, एफआईआर की प्रति भेजें।"
    assert scrollback["last"] == "संदेश 12 / message 12"
    assert checks["messages_page"] == 5
    assert checks["context"] is True
    assert checks["profile"]
    assert checks["set_displayname"] == "403 M_FORBIDDEN"
    assert B in checks["directory"]
    assert checks["leave_seen_by_a"] is True
    assert checks["after_logout"] == "401 M_UNKNOWN_TOKEN"
    assert out["element"] == ELEMENT_START
    # Every call the SDK made answered, none with a server error.
    statuses = [code for codes in out["calls"].values() for code in codes]
    assert not [code for code in statuses if code.startswith("5")], out["calls"]


ACCOUNT_DATA = "GET /_matrix/client/v3/user/{me}/account_data"

#: What Element Web asks at start (and soon after), and what Polaris answers.
ELEMENT_START: dict[str, object] = {
    "GET /_matrix/client/versions": 200,
    "GET /.well-known/matrix/client": 200,
    "GET /_matrix/client/v3/login": 200,
    # No OIDC-native sign-in (MSC3861): the spec's answer for "not supported".
    "GET /_matrix/client/v1/auth_metadata": "404 M_UNRECOGNIZED",
    "GET /_matrix/client/unstable/org.matrix.msc2965/auth_metadata": "404 M_UNRECOGNIZED",
    "GET /_matrix/client/v3/capabilities": 200,
    "GET /_matrix/client/v3/pushrules/": 200,
    "GET /_matrix/client/v3/pushers": 200,
    "GET /_matrix/client/v3/thirdparty/protocols": 200,
    "GET /_matrix/client/v3/voip/turnServer": 200,
    "GET /_matrix/client/v3/account/3pid": 200,
    "POST /_matrix/client/v3/keys/upload": 200,
    "POST /_matrix/client/v3/keys/query": 200,
    "GET /_matrix/client/v3/room_keys/version": "404 M_NOT_FOUND",
    "GET /_matrix/client/v3/devices": 200,
    "GET /_matrix/client/v3/presence/{me}/status": 200,
    "PUT /_matrix/client/v3/presence/{me}/status": 200,
    "GET /_matrix/client/v3/presence/{other}/status": 200,
    "GET /_matrix/client/v3/presence/%40nobody%3Apolaris.test/status": "404 M_NOT_FOUND",
    "PUT /_matrix/client/v3/presence/{other}/status": "403 M_FORBIDDEN",
    "GET /_matrix/client/v3/notifications?limit=20": 200,
    "POST /_matrix/client/v3/publicRooms": 200,
    # MatrixRTC (calls): not served.
    "GET /_matrix/client/unstable/org.matrix.msc4143/rtc/transports": "404 M_UNRECOGNIZED",
    "POST /_matrix/client/v3/keys/device_signing/upload": "404 M_UNRECOGNIZED",
    "POST /_matrix/client/v3/user/{me}/filter": 200,
    f"{ACCOUNT_DATA}/im.vector.setting.breadcrumbs": "404 M_NOT_FOUND",
    f"{ACCOUNT_DATA}/m.secret_storage.default_key": "404 M_NOT_FOUND",
    "GET /_matrix/client/v1/media/config": 200,
    "GET /_matrix/client/v3/publicRooms": 200,
    "GET /_matrix/client/v3/account/whoami": 200,
    "GET /_matrix/media/v3/preview_url?url=https%3A%2F%2Fexample.org": "404 M_UNRECOGNIZED",
    "GET /_matrix/client/v3/login/sso/redirect": 302,
}
