"""The messenger's retention (``chat.retention``): a rule per kind of room removes the text of
messages past it, a legal hold on the room or on the sender keeps them whole, every removal is
audited and appended to the change stream, and the message index drops what was removed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from polaris.access.policy import Actor
from polaris.audit.models import AuditRecord
from polaris.chat import retention
from polaris.chat.models import ChatEvent
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.drive import retention as drive_retention
from polaris.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from polaris.handlers import settle
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.chat.conftest import stream_since
from tests.chat.records_support import BACKENDS, edit, group, site_on
from tests.chat.web_support import ChatSite
from tests.factories import SYSTEM


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatSite]:
    yield from site_on(request, tmp_path_factory, "chat_retention")


def row(site: ChatSite, event_key: str) -> ChatEvent:
    with site.instance.sessions() as session:
        found = session.scalars(select(ChatEvent).where(ChatEvent.event_key == event_key)).one()
        session.expunge(found)
        return found


def hold(site: ChatSite, target: retention.HoldTarget, reason: str = "inquiry 9/2026") -> None:
    with unit_of_work(site.instance.sessions) as session:
        retention.place_hold(
            session=session, actor=None, context=SYSTEM, target=target, reason=reason
        )


def release(site: ChatSite, target: retention.HoldTarget) -> None:
    with unit_of_work(site.instance.sessions) as session:
        retention.release_hold(
            session=session, actor=None, context=SYSTEM, target=target, reason="closed"
        )


def test_rules_remove_old_texts_unless_a_hold_keeps_them(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    with unit_of_work(site.instance.sessions) as session:
        retention.set_room_rule(session=session, actor=None, context=SYSTEM, kind="group", days=30)
        retention.set_room_rule(
            session=session, actor=None, context=SYSTEM, kind="direct", days=365
        )
    plain = group(asha, "plain", bala)
    old = asha.send(plain, "पुराना संदेश serengeti")
    edited = bala.send(plain, "draft serengeti")
    assert edit(bala, edited["event_id"], "final serengeti").status_code == 200
    held_room = group(asha, "held room", bala)
    in_held_room = asha.send(held_room, "रोका गया serengeti")
    mixed = group(asha, "mixed", dev)
    by_held_user = dev.send(mixed, "dev's serengeti")
    by_asha = asha.send(mixed, "asha's serengeti")
    direct = asha.post("/api/v1/chat/rooms/direct", {"user_id": bala.user_id}).json()["id"]
    in_direct = asha.send(direct, "direct serengeti")
    hold(site, retention.HoldTarget(room_id=held_room))
    hold(site, retention.HoldTarget(user_id=dev.user_id))
    settle(site.instance)
    assert bala.get("/api/v1/chat/search", params={"q": "serengeti"}).json()["total"] == 4
    outcome = retention.run(site.instance.sessions, now=utcnow() + dt.timedelta(days=31))

    assert outcome.purged_messages == 3 and outcome.held == 2
    for gone in (old, edited, by_asha):
        purged = row(site, gone["event_id"])
        assert purged.body is None and purged.purged_at is not None
    with site.instance.sessions() as session:
        edits = list(session.scalars(select(ChatEvent).where(ChatEvent.body == "final serengeti")))
    assert edits == []  # the edit's text went with its message
    for kept, text in (
        (in_held_room, "रोका गया serengeti"),
        (by_held_user, "dev's serengeti"),
        (in_direct, "direct serengeti"),
    ):
        assert row(site, kept["event_id"]).body == text
    history = bala.get(f"/api/v1/chat/rooms/{plain}/history").json()["events"]
    assert [e["body"] for e in history if e["event_id"] == old["event_id"]] == [None]

    with site.instance.sessions() as session:
        records = list(
            session.scalars(select(AuditRecord).where(AuditRecord.action == "chat.message.purge"))
        )
        stream = stream_since(session, 0, ["chat.message.purged"])
        session.commit()
    assert sorted(r.object_id for r in records) == sorted([str(plain), str(mixed)])
    assert {e.data["room_id"] for e in stream} == {plain, mixed}
    settle(site.instance)
    assert bala.get("/api/v1/chat/search", params={"q": "serengeti"}).json()["total"] == 2

    # The room's hold lifted, its old messages go at the next pass; the user's hold still keeps.
    release(site, retention.HoldTarget(room_id=held_room))
    again = retention.run(site.instance.sessions, now=utcnow() + dt.timedelta(days=31))
    assert again.purged_messages == 1 and again.held == 1
    assert row(site, in_held_room["event_id"]).body is None
    release(site, retention.HoldTarget(user_id=dev.user_id))
    with unit_of_work(site.instance.sessions) as session:
        for rule in drive_retention.list_room_rules(session=session, actor=None, context=SYSTEM):
            drive_retention.delete_rule(
                session=session, actor=None, context=SYSTEM, rule_id=rule.id
            )


def admin_actor(site: ChatSite, name: str) -> Actor:
    with site.instance.sessions() as session:
        user = session.get(User, site[name].user_id)
        assert user is not None
        return actor_for(session=session, user=user, auth_factors="password")


def test_holds_and_rules_refuse_what_they_cannot_do(site: ChatSite) -> None:
    asha = site["asha"]
    room = group(asha, "refusals")
    target = retention.HoldTarget(room_id=room)
    with pytest.raises(NotFound):
        hold(site, retention.HoldTarget(room_id=999_999))
    with pytest.raises(NotFound):
        hold(site, retention.HoldTarget(user_id=999_999))
    with pytest.raises(ValidationFailed) as blank:
        hold(site, target, reason="  ")
    assert blank.value.code == "reason_required"
    with pytest.raises(ValidationFailed):
        retention.HoldTarget(room_id=room, user_id=asha.user_id)
    hold(site, target)
    with pytest.raises(Conflict) as twice:
        hold(site, target)
    assert twice.value.code == "already_held"
    release(site, target)
    with pytest.raises(Conflict) as lifted:
        release(site, target)
    assert lifted.value.code == "not_held"
    with pytest.raises(PermissionDenied), unit_of_work(site.instance.sessions) as session:
        retention.place_hold(
            session=session,
            actor=admin_actor(site, "asha"),
            context=SYSTEM,
            target=target,
            reason="not mine to hold",
        )
    with pytest.raises(ValidationFailed) as kind, unit_of_work(site.instance.sessions) as session:
        retention.set_room_rule(session=session, actor=None, context=SYSTEM, kind="x", days=3)
    assert kind.value.code == "retention_target"
    with pytest.raises(ValidationFailed) as mixed, unit_of_work(site.instance.sessions) as session:
        drive_retention.set_rule(
            session=session,
            actor=None,
            context=SYSTEM,
            target=drive_retention.Target(room_kind="group"),
            keep_versions_years=3,
            purge_trash_days=None,
            keep_messages_days=30,
        )
    assert mixed.value.code == "retention_duration"
    with pytest.raises(ValidationFailed), unit_of_work(site.instance.sessions) as session:
        retention.set_room_rule(session=session, actor=None, context=SYSTEM, kind="group", days=0)
    with site.instance.sessions() as session:
        listed = retention.list_holds(
            session=session, actor=None, context=SYSTEM, active_only=False
        )
    assert any(h.room_id == room and h.released_at is not None for h in listed)


def test_administrators_manage_rules_and_holds_through_the_api(site: ChatSite) -> None:
    asha, root = site["asha"], site["root"]
    room = group(asha, "api holds")
    refused = asha.post(f"/api/v1/admin/chat/rooms/{room}/hold", {"reason": "mine"})
    assert refused.status_code == 403 and refused.json()["code"] == "admin_required"
    placed = root.post(f"/api/v1/admin/chat/rooms/{room}/hold", {"reason": "inquiry 11"})
    assert placed.status_code == 201, placed.text
    assert placed.json()["room_id"] == room and placed.json()["reason"] == "inquiry 11"
    user = root.post(f"/api/v1/admin/chat/users/{asha.user_id}/hold", {"reason": "inquiry 11"})
    assert user.status_code == 201 and user.json()["user_id"] == asha.user_id
    listed = root.get("/api/v1/admin/chat/holds").json()
    assert {(h["room_id"], h["user_id"]) for h in listed} == {(room, None), (None, asha.user_id)}
    again = root.post(f"/api/v1/admin/chat/rooms/{room}/hold", {"reason": "again"})
    assert again.status_code == 409 and again.json()["code"] == "already_held"
    for path in (f"rooms/{room}", f"users/{asha.user_id}"):
        lifted = root.post(f"/api/v1/admin/chat/{path}/release", {"reason": "closed"})
        assert lifted.status_code == 200 and lifted.json()["release_reason"] == "closed"
    assert root.get("/api/v1/admin/chat/holds").json() == []
    rule = root.client.put(
        "/api/v1/admin/chat/retention/rules",
        json={"room_kind": "broadcast", "keep_messages_days": 3650},
        headers=root.headers(),
    )
    assert rule.status_code == 200 and rule.json()["room_kind"] == "broadcast", rule.text
    rules = root.get("/api/v1/admin/chat/retention/rules").json()
    assert [(r["room_kind"], r["keep_messages_days"]) for r in rules] == [("broadcast", 3650)]
    odd = root.client.put(
        "/api/v1/admin/chat/retention/rules",
        json={"room_kind": "party", "keep_messages_days": 3},
        headers=root.headers(),
    )
    assert odd.status_code == 422
    drive_rules = root.get("/api/v1/admin/retention/rules").json()
    assert all(r.get("room_kind") is None for r in drive_rules)  # the drive's list stays its own
    gone = root.client.delete(
        f"/api/v1/admin/retention/rules/{rules[0]['id']}", headers=root.headers()
    )
    assert gone.status_code == 204
