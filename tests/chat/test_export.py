"""An inquiry's export of a room (``chat.export``): administrators only, a non-administrator told
the room does not exist (as for a missing room), everything the rows keep (edits, deleted text,
membership changes, attachments with their SHA-256), IST times, and the audit records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from polaris.audit.models import AuditRecord
from tests.chat.records_support import BACKENDS, delete, edit, group, site_on, upload
from tests.chat.web_support import ChatSite


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatSite]:
    yield from site_on(request, tmp_path_factory, "chat_export")


def audit_rows(site: ChatSite, action: str) -> list[AuditRecord]:
    with site.instance.sessions() as session:
        return list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
            )
        )


def test_an_administrator_exports_everything_the_rows_keep(site: ChatSite) -> None:
    asha, bala, root = site["asha"], site["bala"], site["root"]
    room = group(asha, "जांच दल", bala)
    first = asha.send(room, "पहला संदेश FIR 12/2026")
    assert edit(asha, first["event_id"], "पहला संदेश FIR 12/2026 (सुधार)").status_code == 200
    secret = bala.send(room, "मिटाया गया text")
    assert delete(bala, secret["event_id"]).status_code == 200
    node_id = upload(asha, "fir-12.txt", b"FIR 12/2026 text")
    sent = asha.post(f"/api/v1/chat/rooms/{room}/attachments", {"node_id": node_id})
    assert sent.status_code == 201, sent.text
    assert asha.post(f"/api/v1/chat/rooms/{room}/leave").status_code == 204

    response = root.post(
        f"/api/v1/chat/rooms/{room}/export", {"reason": "inquiry 7/2026", "format": "json"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    record = response.json()
    bodies = [e["body"] for e in record["events"] if e["kind"] == "text"]
    assert "पहला संदेश FIR 12/2026" in bodies and "पहला संदेश FIR 12/2026 (सुधार)" in bodies
    deleted = next(e for e in record["events"] if e["event_key"] == secret["event_id"])
    assert deleted["body"] == "मिटाया गया text" and deleted["redacted_by"] == bala.user_id
    assert deleted["redacted_at"].endswith("+05:30")
    changes = [(c["user_id"], c["membership"]) for c in record["membership_changes"]]
    assert (bala.user_id, "invite") in changes and (bala.user_id, "join") in changes
    assert changes[-1] == (asha.user_id, "leave")
    assert {m["user_id"]: m["membership"] for m in record["members"]} == {
        asha.user_id: "leave",
        bala.user_id: "join",
    }
    [attachment] = record["attachments"]
    assert attachment["node_id"] == node_id and attachment["version_number"] == 1
    assert attachment["sha256"] == hashlib.sha256(b"FIR 12/2026 text").hexdigest()
    assert record["reason"] == "inquiry 7/2026" and record["exported_by"] == root.user_id

    text = root.post(
        f"/api/v1/chat/rooms/{room}/export", {"reason": "inquiry 7/2026", "format": "text"}
    )
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    transcript = text.text
    assert "मिटाया गया text" in transcript and " IST]" in transcript
    assert f"by {record['users'][str(root.user_id)]['full_name']} (root)" in transcript
    assert f"sha256 {attachment['sha256']}" in transcript and "deleted message #" in transcript

    done = audit_rows(site, "chat.export")[-2:]
    assert [(r.object_id, r.reason, r.actor_id) for r in done] == [
        (str(room), "inquiry 7/2026", str(root.user_id))
    ] * 2
    assert [json.loads(r.detail)["format"] for r in done] == ["json", "text"]


def test_a_non_administrator_is_answered_as_for_a_missing_room(site: ChatSite) -> None:
    asha, bala, root = site["asha"], site["bala"], site["root"]
    room = group(asha, "own room", bala)
    asha.send(room, "hello")
    body = {"reason": "curious"}
    mine = asha.post(f"/api/v1/chat/rooms/{room}/export", body)
    other = site["dev"].post(f"/api/v1/chat/rooms/{room}/export", body)
    missing = root.post("/api/v1/chat/rooms/999999/export", body)
    missing_for_member = asha.post("/api/v1/chat/rooms/999999/export", body)
    assert mine.status_code == other.status_code == missing.status_code == 404
    assert mine.json() == other.json() == missing.json() == missing_for_member.json()
    denied = audit_rows(site, "chat_room.export")[-4:]
    assert [(r.decision, r.reason) for r in denied] == [
        ("deny", "not_admin"),
        ("deny", "not_admin"),
        ("deny", "missing"),
        ("deny", "not_admin"),
    ]
    assert not [r for r in audit_rows(site, "chat.export") if r.reason == "curious"]


def test_an_export_needs_a_reason_and_a_known_format(site: ChatSite) -> None:
    asha, root = site["asha"], site["root"]
    room = group(asha, "reasons")
    blank = root.post(f"/api/v1/chat/rooms/{room}/export", {"reason": "   "})
    assert blank.status_code == 422 and blank.json()["code"] == "reason_required"
    absent = root.post(f"/api/v1/chat/rooms/{room}/export", {})
    assert absent.status_code == 422
    odd = root.post(f"/api/v1/chat/rooms/{room}/export", {"reason": "x", "format": "pdf"})
    assert odd.status_code == 422


def test_the_operator_exports_without_an_actor(site: ChatSite) -> None:
    from polaris.chat import export
    from polaris.db.uow import unit_of_work
    from tests.factories import SYSTEM

    asha = site["asha"]
    room = group(asha, "cli room")
    asha.send(room, "कमांड से")
    with unit_of_work(site.instance.sessions) as session:
        record = export.export_room(
            session=session, actor=None, context=SYSTEM, room_id=room, reason="court order 3"
        )
    assert [e["body"] for e in record.data["events"] if e["kind"] == "text"] == ["कमांड से"]
    assert json.loads(export.as_json(record))["room"]["name"] == "cli room"


def test_the_command_refuses_a_missing_room_and_writes_nothing(tmp_path: Path) -> None:
    from polaris.cli.main import app

    runner = CliRunner()
    assert runner.invoke(app, ["init", str(tmp_path / "i"), "--admin", "chief"]).exit_code == 0
    out = tmp_path / "room.json"
    args = ["chat", "export", "999", "--reason", "inquiry", "--out", str(out)]
    missing = runner.invoke(app, [*args, "--data-dir", str(tmp_path / "i")])
    assert missing.exit_code == 1 and "not_found" in missing.output and not out.exists()
