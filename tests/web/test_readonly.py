"""The incident switch over HTTP: reads and sign-in go on, writes get 503 instance_read_only."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from polaris.incident import service as incident
from polaris.instance import Instance
from tests.factories import PASSWORD, SYSTEM
from tests.web.test_api import sign_in


def _switch(instance: Instance, client: TestClient, *, on: bool) -> None:
    with instance.sessions() as session:
        if on:
            incident.turn_on(
                session=session, actor=None, context=SYSTEM, reason="ransomware at PS-A1"
            )
        else:
            incident.turn_off(session=session, actor=None, context=SYSTEM)
        session.commit()
    client.app.state.read_only.invalidate()  # type: ignore[attr-defined]


def _make_token(client: TestClient, csrf: str) -> int:
    response = client.post(
        "/api/v1/tokens",
        json={"name": "script", "scopes": ["read"], "lifetime_days": 30},
        headers={"X-CSRF-Token": csrf},
    )
    return response.status_code


def test_writes_are_refused_while_reads_and_sign_in_go_on(
    seeded: Instance, client: TestClient
) -> None:
    csrf = sign_in(client)
    assert _make_token(client, csrf) == 201
    _switch(seeded, client, on=True)

    assert client.get("/api/v1/me").status_code == 200
    csrf = sign_in(client)  # sign-in writes a session: allowed, so officers can read
    refused = client.post(
        "/api/v1/tokens",
        json={"name": "script", "scopes": ["read"], "lifetime_days": 30},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "instance_read_only"
    assert problem["reason"] == "ransomware at PS-A1"
    assert problem["since"].endswith("+05:30")
    assert "ransomware at PS-A1" in problem["detail"]

    upload = client.post(
        "/api/v1/uploads",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": "5", "X-CSRF-Token": csrf},
    )
    assert upload.status_code == 503 and upload.headers["tus-resumable"] == "1.0.0"
    assert upload.json()["code"] == "instance_read_only"

    _switch(seeded, client, on=False)
    assert _make_token(client, csrf) == 201


def test_pages_show_a_banner_in_english_and_hindi_and_refuse_form_writes(
    seeded: Instance, client: TestClient
) -> None:
    _switch(seeded, client, on=True)
    page = client.get("/login")
    assert page.status_code == 200
    assert "incident-banner" in page.text and "ransomware at PS-A1" in page.text
    assert re.search(r"\d{2}:\d{2} IST during incident response", page.text)
    hindi = client.get("/login", headers={"Accept-Language": "hi"})
    assert "केवल पढ़ने की अनुमति है" in hindi.text
    refused = client.post("/drive/1/folders", data={"name": "x"})
    assert refused.status_code == 503
    assert "read-only during incident response" in refused.text


def test_matrix_apps_sign_in_and_read_while_their_writes_are_refused(
    seeded: Instance, client: TestClient
) -> None:
    _switch(seeded, client, on=True)
    login = client.post(
        "/_matrix/client/v3/login",
        json={"type": "m.login.password", "user": "ct.one", "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert client.get("/_matrix/client/v3/account/whoami", headers=bearer).status_code == 200
    user = login.json()["user_id"]
    refused = client.put(
        f"/_matrix/client/v3/user/{user}/account_data/x.y", json={"a": 1}, headers=bearer
    )
    assert refused.status_code == 503
    assert refused.json()["errcode"] == "M_UNKNOWN"
    assert "ransomware at PS-A1" in refused.json()["error"]
    # The send is a plain route that runs the app-wide checks itself.
    send = client.put(
        "/_matrix/client/v3/rooms/!1:testserver/send/m.room.message/ro1",
        json={"msgtype": "m.text", "body": "नहीं जाएगा"}, headers=bearer,
    )  # fmt: skip
    assert (send.status_code, send.json()["errcode"]) == (503, "M_UNKNOWN"), send.text
    # Element's room directory is a POST that only reads.
    rooms = client.post("/_matrix/client/v3/publicRooms", json={"limit": 20}, headers=bearer)
    assert rooms.status_code == 200
    assert rooms.json() == {"chunk": [], "total_room_count_estimate": 0}
    assert client.post("/_matrix/client/v3/logout", headers=bearer).status_code == 200
