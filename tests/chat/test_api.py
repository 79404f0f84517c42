"""The messenger's HTTP API: rooms, messages, receipts, broadcasts, attachments and typing,
through the app with officers signed in by cookie (CSRF header on every change)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polaris.audit.models import AuditRecord
from polaris.db import make_engine
from tests.chat.web_support import ChatSite, Officer, chat_site
from tests.support.real_app import migrated

SCHEMA_SUFFIX = "_chat_api"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatSite]:
    from tests.conftest import PG_SCHEMA

    directory = tmp_path_factory.mktemp("chat-api")
    with migrated("sqlite", directory, PG_SCHEMA + SCHEMA_SUFFIX) as url:
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


def rooms_of(officer: Officer) -> dict[int, dict[str, Any]]:
    response = officer.get("/api/v1/chat/rooms")
    assert response.status_code == 200, response.text
    return {room["id"]: room for room in response.json()["rooms"]}


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


def test_group_messages_unread_and_read(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "थाना A1 दल", bala)
    first = asha.send(room, "नमस्ते, all hands at 9")
    asha.send(room, "second", reply_to=first["event_id"])
    assert rooms_of(bala)[room]["unread"] == 2
    assert rooms_of(asha)[room]["unread"] == 0
    history = bala.get(f"/api/v1/chat/rooms/{room}/history", params={"limit": 2}).json()
    assert [e["body"] for e in history["events"]] == ["नमस्ते, all hands at 9", "second"]
    assert history["events"][1]["reply_to"] == first["event_id"]
    assert history["more"] is True
    assert history["users"][str(asha.user_id)] == "Asha"
    last = history["events"][-1]["event_id"]
    read = bala.post(f"/api/v1/chat/events/{last}/read")
    assert read.status_code == 200 and read.json()["up_to_seq"] == history["events"][-1]["seq"]
    assert rooms_of(bala)[room]["unread"] == 0


def test_history_pages_back_by_seq(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "paging", bala)
    for n in range(5):
        asha.send(room, f"m{n}")
    url = f"/api/v1/chat/rooms/{room}/history"
    latest = bala.get(url, params={"limit": 3}).json()
    assert [e["body"] for e in latest["events"]] == ["m2", "m3", "m4"]
    older = bala.get(url, params={"limit": 3, "before": latest["events"][0]["seq"]}).json()
    assert [e["body"] for e in older["events"] if e["kind"] == "text"] == ["m0", "m1"]
    assert bala.get(url, params={"limit": 0}).status_code == 422
    both = bala.get(url, params={"before": 3, "after": 1})
    assert both.status_code == 422 and both.json()["code"] == "chat_bad_page"


def test_edit_and_delete(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "edits", bala)
    sent = asha.send(room, "typo")
    edited = asha.client.patch(
        f"/api/v1/chat/events/{sent['event_id']}", json={"body": "fixed"}, headers=asha.headers()
    )
    assert edited.status_code == 200 and edited.json()["edits"] == sent["event_id"]
    not_mine = bala.client.patch(
        f"/api/v1/chat/events/{sent['event_id']}", json={"body": "x"}, headers=bala.headers()
    )
    assert not_mine.status_code == 403 and not_mine.json()["code"] == "chat_not_sender"
    gone = asha.client.delete(f"/api/v1/chat/events/{sent['event_id']}", headers=asha.headers())
    assert gone.status_code == 200 and gone.json()["redacts"] == sent["event_id"]
    events = bala.get(f"/api/v1/chat/rooms/{room}/history").json()["events"]
    original = next(e for e in events if e["event_id"] == sent["event_id"])
    assert original["redacted"] is True and original["body"] is None


def test_bad_input_gets_clear_errors(site: ChatSite) -> None:
    asha = site["asha"]
    room = group(asha, "errors")
    blank = asha.post(f"/api/v1/chat/rooms/{room}/messages", {"body": "   "})
    assert blank.status_code == 422 and blank.json()["code"] == "chat_body_empty"
    nul = asha.post(f"/api/v1/chat/rooms/{room}/messages", {"body": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["code"] == "chat_body_invalid"
    bidi = asha.post("/api/v1/chat/rooms/group", {"name": "evil\u202egnp.exe"})
    assert bidi.status_code == 422 and bidi.json()["code"] == "chat_name_invalid"
    extra = asha.post(f"/api/v1/chat/rooms/{room}/messages", {"body": "x", "surprise": 1})
    assert extra.status_code == 422
    no_csrf = asha.client.post(f"/api/v1/chat/rooms/{room}/messages", json={"body": "x"})
    assert no_csrf.status_code == 403 and no_csrf.json()["code"] == "csrf_failed"


def test_a_non_member_and_a_missing_room_look_the_same(site: ChatSite) -> None:
    asha, dev = site["asha"], site["dev"]
    room = group(asha, "private")
    asha.send(room, "secret plans")
    answers = []
    for room_id in (room, 999_999):
        for method, url in (
            ("GET", f"/api/v1/chat/rooms/{room_id}/history"),
            ("GET", f"/api/v1/chat/rooms/{room_id}/members"),
            ("POST", f"/api/v1/chat/rooms/{room_id}/messages"),
        ):
            body = {"body": "hi"} if method == "POST" else None
            response = dev.client.request(method, url, json=body, headers=dev.headers())
            answers.append((method, url.replace(str(room_id), "R"), response.status_code))
            assert response.status_code == 404
            assert "secret" not in response.text
    assert answers[:3] == answers[3:]
    assert room not in rooms_of(dev)


def test_direct_invite_leave_kick(site: ChatSite) -> None:
    asha, bala, chand = site["asha"], site["bala"], site["chand"]
    made = asha.post("/api/v1/chat/rooms/direct", {"user_id": bala.user_id})
    assert made.status_code == 201 and made.json()["kind"] == "direct"
    again = bala.post("/api/v1/chat/rooms/direct", {"user_id": asha.user_id})
    assert again.json()["id"] == made.json()["id"]
    room = group(asha, "team")
    assert (
        asha.post(f"/api/v1/chat/rooms/{room}/invite", {"user_id": chand.user_id}).status_code
        == 204
    )
    assert rooms_of(chand)[room]["membership"] == "invite"
    assert chand.post(f"/api/v1/chat/rooms/{room}/join").json()["membership"] == "join"
    members = {m["user_id"]: m for m in asha.get(f"/api/v1/chat/rooms/{room}/members").json()}
    assert members[chand.user_id]["membership"] == "join"
    kicked = asha.post(f"/api/v1/chat/rooms/{room}/kick", {"user_id": chand.user_id})
    assert kicked.status_code == 204
    assert room not in rooms_of(chand)
    assert chand.get(f"/api/v1/chat/rooms/{room}/history").status_code == 404
    assert asha.post(f"/api/v1/chat/rooms/{room}/leave").status_code == 204


def test_broadcast_acknowledgements_by_unit_and_remind(site: ChatSite) -> None:
    sp, asha, bala, chand = site["sp"], site["asha"], site["bala"], site["chand"]
    made = sp.post("/api/v1/chat/rooms/broadcast", {"name": "जिला आदेश"})
    assert made.status_code == 201, made.text
    room = made.json()["id"]
    order = sp.send(room, "Report strength by 10:00")
    key = order["event_id"]
    refused = asha.post(f"/api/v1/chat/rooms/{room}/messages", {"body": "me too"})
    assert refused.status_code in (403, 404)
    assert asha.post(f"/api/v1/chat/events/{key}/acknowledge").json() == {"acknowledged": True}
    assert asha.post(f"/api/v1/chat/events/{key}/acknowledge").json() == {"acknowledged": False}
    table = sp.get(f"/api/v1/chat/events/{key}/acknowledgements")
    assert table.status_code == 200, table.text
    by_unit = {row["unit_name"]: row for row in table.json()}
    assert [p["name"] for p in by_unit["Unit PS-A1"]["acknowledged"]] == ["Asha"]
    assert [p["name"] for p in by_unit["Unit PS-A1"]["pending"]] == ["Bala"]
    assert [p["name"] for p in by_unit["Unit PS-A2"]["pending"]] == ["Chand"]
    assert asha.get(f"/api/v1/chat/events/{key}/acknowledgements").status_code in (403, 404)
    reminded = sp.post(f"/api/v1/chat/events/{key}/remind").json()["reminded"]
    assert bala.user_id in reminded and chand.user_id in reminded
    assert asha.user_id not in reminded


def test_attachment_read_through_the_room_and_audited(site: ChatSite) -> None:
    asha, bala, chand, dev = site["asha"], site["bala"], site["chand"], site["dev"]
    room = group(asha, "files", bala)
    node_id = upload(asha, "fir-12.txt", b"FIR 12/2026 text")
    sent = asha.post(f"/api/v1/chat/rooms/{room}/attachments", {"node_id": node_id})
    assert sent.status_code == 201, sent.text
    key = sent.json()["event_id"]
    assert sent.json()["attachment"]["name"] == "fir-12.txt"
    got = bala.get(f"/api/v1/chat/events/{key}/attachment")
    assert got.status_code == 200 and got.content == b"FIR 12/2026 text"
    assert "fir-12.txt" in got.headers["content-disposition"]
    # a late joiner has no drive share of the file, yet the room lets them read it
    assert (
        asha.post(f"/api/v1/chat/rooms/{room}/invite", {"user_id": chand.user_id}).status_code
        == 204
    )
    chand.post(f"/api/v1/chat/rooms/{room}/join")
    assert chand.get(f"/api/v1/files/{node_id}/content").status_code == 404
    late = chand.get(f"/api/v1/chat/events/{key}/attachment")
    assert late.status_code == 200 and late.content == b"FIR 12/2026 text"
    outsider = dev.get(f"/api/v1/chat/events/{key}/attachment")
    missing = dev.get("/api/v1/chat/events/no-such-event-key/attachment")
    assert outsider.status_code == missing.status_code == 404
    assert outsider.json() == missing.json()
    session = site.instance.sessions()
    reads = session.scalars(
        select(AuditRecord.actor_id).where(AuditRecord.action == "chat.attachment.read")
    ).all()
    session.close()
    assert str(bala.user_id) in reads and str(chand.user_id) in reads


def test_typing_is_ephemeral_and_for_members(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    room = group(asha, "typing", bala)
    url = f"/api/v1/chat/rooms/{room}/typing"
    put = asha.client.put(url, json={"typing": True, "timeout_ms": 10_000}, headers=asha.headers())
    assert put.status_code == 204
    assert bala.get(url).json() == {"user_ids": [asha.user_id]}
    assert asha.get(url).json() == {"user_ids": []}
    expired = bala.client.put(url, json={"typing": True, "timeout_ms": 0}, headers=bala.headers())
    assert expired.status_code == 204
    assert bala.user_id not in asha.get(url).json()["user_ids"]
    asha.client.put(url, json={"typing": False}, headers=asha.headers())
    assert bala.get(url).json() == {"user_ids": []}
    assert dev.get(url).status_code == 404
    too_long = asha.client.put(
        url, json={"typing": True, "timeout_ms": 10**9}, headers=asha.headers()
    )
    assert too_long.status_code == 422


def test_rooms_list_gives_a_position_to_sync_from(site: ChatSite, tmp_path: Path) -> None:
    listed = site["asha"].get("/api/v1/chat/rooms").json()
    assert listed["position"] >= 0
    assert listed["unread_total"] == sum(room["unread"] for room in listed["rooms"])


def test_a_broadcast_from_a_unit_that_does_not_exist_is_not_found(site: ChatSite) -> None:
    body = {"name": "x", "unit_id": 99_999}
    answer = site["root"].post("/api/v1/chat/rooms/broadcast", body)  # may name any unit
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
