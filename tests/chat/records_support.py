"""A chat site on each database (SQLite and PostgreSQL), for the inquiry's export, retention and
message search tests, and the helpers they share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from polaris.db import make_engine
from tests.chat.web_support import ChatSite, Officer, chat_site
from tests.support.real_app import migrated

BACKENDS = ["sqlite", "postgresql"]


def site_on(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, suffix: str
) -> Iterator[ChatSite]:
    from tests.conftest import PG_SCHEMA

    backend = str(request.param)
    directory = factory.mktemp(f"chat-{suffix}-{backend}")
    with migrated(backend, directory, f"{PG_SCHEMA}_{suffix}") as url:
        engine = make_engine(url)
        try:
            with chat_site(engine, directory) as made:
                yield made
        finally:
            engine.dispose()


def group(owner: Officer, name: str, *invited: Officer) -> int:
    body = {"name": name, "invite": [o.user_id for o in invited]}
    response = owner.post("/api/v1/chat/rooms/group", body)
    assert response.status_code == 201, response.text
    room_id = int(response.json()["id"])
    for officer in invited:
        joined = officer.post(f"/api/v1/chat/rooms/{room_id}/join")
        assert joined.status_code == 200, joined.text
    return room_id


def upload(officer: Officer, name: str, data: bytes) -> int:
    spaces = officer.get("/api/v1/spaces").json()
    root = next(space["root_id"] for space in spaces if space["kind"] == "user")
    response = officer.client.post(
        "/api/v1/files",
        params={"parent_id": root, "name": name},
        content=data,
        headers=officer.headers(),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def delete(officer: Officer, event_key: str) -> Any:
    return officer.client.delete(f"/api/v1/chat/events/{event_key}", headers=officer.headers())


def edit(officer: Officer, event_key: str, body: str) -> Any:
    return officer.client.patch(
        f"/api/v1/chat/events/{event_key}", json={"body": body}, headers=officer.headers()
    )
