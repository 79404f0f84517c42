"""The messenger's administration page: a room exported for an inquiry (JSON and a transcript in
English and Hindi, a reason required, audited), retention rules per kind of room set, holds on
rooms and users placed and lifted (audited), bad input explained with what was typed kept, and
nobody but administrators let in. SQLite and PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polaris.audit.context import AuditContext
from polaris.chat import messages, rooms
from polaris.drive.models import LegalHold, RetentionRule
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import make_user
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

PAGE = "/admin/chat"


def a_room(instance: Instance) -> int:
    """A group of ct.one and ct.two with a message edited and one deleted."""
    with instance.sessions() as session:
        make_user(session, "ct.two")
        session.commit()
        one = session.scalars(select(User).where(User.username == "ct.one")).one()
        two = session.scalars(select(User).where(User.username == "ct.two")).one()
        actor = actor_for(session=session, user=one, auth_factors="password")
        context: AuditContext = actor_context(actor, RequestInfo(request_id="t"))
        who = {"session": session, "actor": actor, "context": context}
        room = rooms.create_group(**who, name="जाँच दल", invite_user_ids=[two.id])
        first = messages.send_text(**who, room_id=room.id, body="पहला संदेश")
        messages.edit(**who, event_key=first.event_key, body="पहला संदेश (ठीक)")
        gone = messages.send_text(**who, room_id=room.id, body="गलती से भेजा")
        messages.redact(**who, event_key=gone.event_key)
        session.commit()
        return room.id


def test_a_room_is_exported_with_a_reason(seeded: Instance, client: TestClient) -> None:
    room = a_room(seeded)
    sign_in_admin(client)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'href="/admin/chat" aria-current="page"' in page.text
    assert f'<option value="{room}"' in page.text and "जाँच दल" in page.text
    csrf = csrf_of(page.text)

    blank = client.post(f"{PAGE}/export", data={"csrf": csrf, "room": str(room), "reason": " "})
    assert blank.status_code == 422
    assert "Give the reason: it is kept in the audit log." in blank.text
    assert not records(seeded, "chat.export")

    answer = client.post(
        f"{PAGE}/export",
        data={"csrf": csrf, "room": str(room), "reason": "Inquiry 7/2026", "format": "json"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == f'attachment; filename="room-{room}.json"'
    record = json.loads(answer.text)
    bodies = [e["body"] for e in record["events"]]
    assert "गलती से भेजा" in bodies and "पहला संदेश (ठीक)" in bodies  # deleted and edited text
    english = client.post(
        f"{PAGE}/export",
        data={"csrf": csrf, "room": str(room), "reason": "Inquiry 7/2026", "format": "text"},
    )
    assert english.headers["content-type"].startswith("text/plain")
    assert (
        "Polaris chat export (polaris-chat-export/1)" in english.text
        and "Members now:" in english.text
    )
    assert "IST" in english.text and "deleted message #" in english.text
    hindi = client.post(
        f"{PAGE}/export",
        data={"csrf": csrf, "room": str(room), "reason": "जाँच", "format": "text"},
        headers={"Accept-Language": "hi"},
    )
    assert "Polaris चैट निर्यात (polaris-chat-export/1)" in hindi.text and "अभी के सदस्य:" in hindi.text
    assert "समयरेखा:" in hindi.text and "Members now:" not in hindi.text
    done = records(seeded, "chat.export")
    assert [(int(r.object_id or 0), r.reason) for r in done] == [
        (room, "Inquiry 7/2026"),
        (room, "Inquiry 7/2026"),
        (room, "जाँच"),
    ]

    missing = client.post(
        f"{PAGE}/export", data={"csrf": csrf, "room": "99999", "reason": "Inquiry"}
    )
    assert missing.status_code == 404 and "No room or user has this number" in missing.text
    assert 'value="Inquiry"' in missing.text  # what was typed is kept
    bad = client.post(f"{PAGE}/export", data={"csrf": csrf, "room": "abc", "reason": "x"})
    assert bad.status_code == 404
    no_csrf = client.post(f"{PAGE}/export", data={"room": str(room), "reason": "x"})
    assert no_csrf.status_code == 403


def test_the_room_picker_finds_by_name_and_member(seeded: Instance, client: TestClient) -> None:
    room = a_room(seeded)
    sign_in_admin(client)
    assert f'<option value="{room}"' in client.get(PAGE, params={"rooms": "जाँच"}).text
    assert f'<option value="{room}"' not in client.get(PAGE, params={"rooms": "nothing"}).text


def test_retention_rules_per_kind_of_room(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    page = client.get(PAGE)
    assert page.text.count("<td>for ever</td>") == 4
    csrf = csrf_of(page.text)
    saved = client.post(
        f"{PAGE}/rules", data={"csrf": csrf, "room_kind": "group", "keep_messages_days": "365"}
    )
    assert saved.status_code == 200 and "The rule is saved." in saved.text
    assert "365 days" in saved.text
    again = client.post(
        f"{PAGE}/rules", data={"csrf": csrf, "room_kind": "group", "keep_messages_days": "30"}
    )
    assert again.status_code == 200
    with seeded.sessions() as session:
        found = session.scalars(select(RetentionRule).where(RetentionRule.room_kind.is_not(None)))
        assert [(r.room_kind, r.keep_messages_days) for r in found] == [("group", 30)]
    assert len(records(seeded, "retention.rule_set")) == 2
    for days in ("0", "abc", "40000", ""):
        refused = client.post(
            f"{PAGE}/rules",
            data={"csrf": csrf, "room_kind": "direct", "keep_messages_days": days},
        )
        assert refused.status_code == 422, days
        assert "Keep messages from 1 to 36500 days" in refused.text
    wrong_kind = client.post(
        f"{PAGE}/rules", data={"csrf": csrf, "room_kind": "rooms", "keep_messages_days": "5"}
    )
    assert wrong_kind.status_code == 422
    hindi = client.get(PAGE, headers={"Accept-Language": "hi"}).text
    assert "कक्ष के प्रकार के अनुसार संदेशों का प्रतिधारण" in hindi and "30 दिन" in hindi


def test_holds_on_rooms_and_users(seeded: Instance, client: TestClient) -> None:
    room = a_room(seeded)
    sign_in_admin(client)
    csrf = csrf_of(client.get(PAGE).text)
    placed = client.post(
        f"{PAGE}/holds", data={"csrf": csrf, "room": str(room), "reason": "Court order 12"}
    )
    assert placed.status_code == 200 and "The legal hold is placed." in placed.text
    assert f"Room {room}: जाँच दल" in placed.text
    twice = client.post(f"{PAGE}/holds", data={"csrf": csrf, "room": str(room), "reason": "again"})
    assert twice.status_code == 409 and "already under a legal hold" in twice.text
    person = client.post(
        f"{PAGE}/holds", data={"csrf": csrf, "username": "ct.two", "reason": "Inquiry 9"}
    )
    assert person.status_code == 200 and "Everything sent by" in person.text
    nobody = client.post(
        f"{PAGE}/holds", data={"csrf": csrf, "username": "nobody", "reason": "Inquiry 9"}
    )
    assert nobody.status_code == 404 and 'value="nobody"' in nobody.text
    neither = client.post(f"{PAGE}/holds", data={"csrf": csrf, "reason": "Inquiry 9"})
    assert neither.status_code == 422
    no_reason = client.post(f"{PAGE}/holds", data={"csrf": csrf, "room": str(room), "reason": ""})
    assert no_reason.status_code == 422
    with seeded.sessions() as session:
        two = session.scalars(select(User.id).where(User.username == "ct.two")).one()
    lifted = client.post(
        f"{PAGE}/holds/release", data={"csrf": csrf, "room": str(room), "reason": "Order lifted"}
    )
    assert lifted.status_code == 200 and "The legal hold is lifted." in lifted.text
    client.post(f"{PAGE}/holds/release", data={"csrf": csrf, "user": str(two), "reason": "Done"})
    not_held = client.post(
        f"{PAGE}/holds/release", data={"csrf": csrf, "room": str(room), "reason": "again"}
    )
    assert not_held.status_code == 409 and "not under a legal hold" in not_held.text
    with seeded.sessions() as session:
        active = session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None)))
        assert list(active) == []
    assert len(records(seeded, "chat.hold")) == 2 and len(records(seeded, "chat.release")) == 2


def test_only_administrators(seeded: Instance, client: TestClient) -> None:
    room = a_room(seeded)
    sign_in(client, "ct.one")
    page = client.get(PAGE)
    assert page.status_code == 403 and "Only administrators may do this." in page.text
    csrf = csrf_of(client.get("/chat").text)
    refused = client.post(f"{PAGE}/export", data={"csrf": csrf, "room": str(room), "reason": "x"})
    assert refused.status_code == 403
    assert not records(seeded, "chat.export")
