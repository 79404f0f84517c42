"""The status page: audit and storage verification run as jobs, their outcome shown and audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from polaris import jobs
from polaris.audit.models import AuditCheckpoint, AuditRecord
from polaris.instance import Instance
from polaris.storage import names
from polaris.web.sealing import seal_once
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_pages import csrf_of

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def run_check(client: TestClient, check: str) -> None:
    page = client.get("/admin/status")
    response = client.post(f"/admin/status/{check}/run", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 200 and response.url.path == "/admin/status"


def section(html: str, check: str) -> str:
    found = re.search(rf'<section class="card" id="{check}".*?</section>', html, re.S)
    assert found, f"no {check} section"
    return found.group(0)


def test_nothing_checked_yet(client: TestClient) -> None:
    sign_in_admin(client)
    page = client.get("/admin/status")
    assert page.status_code == 200
    assert page.text.count("Not checked from here yet.") == 2
    assert "js/admin-job." not in page.text


def test_audit_verify_runs_as_a_job_and_its_result_is_shown_and_audited(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    seal_once(seeded, force=True)  # as the server's sealer does (records wait for it)
    run_check(client, "audit")
    run_check(client, "audit")  # a second click while it waits queues nothing more
    waiting = client.get("/admin/status")
    assert "js/admin-job." in waiting.text
    assert "Check now: Audit log" not in waiting.text
    assert jobs.run_pending(seeded) == 1
    audit_part = section(client.get("/admin/status").text, "audit")
    assert "No problems found" in audit_part and "admin.one" in audit_part
    assert "Check now" in audit_part
    [record] = records(seeded, "audit.verify")
    assert record.actor_name == "admin.one"
    assert record.detail_value["ok"] is True and record.detail_value["records"] > 10


def test_a_tampered_audit_log_is_reported(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    seal_once(seeded, force=True)
    session: Session = seeded.sessions()
    session.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(action="x.edited"))
    session.commit()
    session.close()
    run_check(client, "audit")
    jobs.run_pending(seeded)
    audit_part = section(client.get("/admin/status").text, "audit")
    assert re.search(r"\d+ problems? found", audit_part)
    assert "<td><code>3</code></td>" in audit_part
    assert records(seeded, "audit.verify")[-1].detail_value["ok"] is False


def test_deleted_checkpoints_are_reported(seeded: Instance, client: TestClient) -> None:
    """Regression (issue 9): the check used to say "ok" once the checkpoints were deleted."""
    sign_in_admin(client)
    seal_once(seeded, force=True)
    session: Session = seeded.sessions()
    session.execute(delete(AuditCheckpoint))
    session.commit()
    session.close()
    run_check(client, "audit")
    jobs.run_pending(seeded)
    audit_part = section(client.get("/admin/status").text, "audit")
    assert re.search(r"\d+ problems? found", audit_part)
    assert records(seeded, "audit.verify")[-1].detail_value["ok"] is False


def test_storage_verify_finds_a_damaged_chunk(
    seeded: Instance, client: TestClient, tmp_path: Path
) -> None:
    content = seeded.blobs.put_bytes(b"case diary entry " * 100)
    chunk = tmp_path / "blobs" / names.chunk_name(content.chunks[0].chunk_id)
    damaged = bytearray(chunk.read_bytes())
    damaged[60] ^= 0xFF
    chunk.write_bytes(bytes(damaged))
    sign_in_admin(client)
    run_check(client, "storage")
    jobs.run_pending(seeded)
    storage_part = section(client.get("/admin/status").text, "storage")
    assert "1 problem found" in storage_part
    assert content.chunks[0].chunk_id in storage_part
    [record] = records(seeded, "storage.verify")
    assert record.detail_value["ok"] is False and record.reason == "problems_found"


def test_the_queue_is_shown_with_the_reason_of_each_failed_job(
    seeded: Instance, client: TestClient
) -> None:
    from polaris.db.uow import transaction

    session: Session = seeded.sessions()
    with transaction(session):
        jobs.enqueue(session, kind="ingest.previews", payload={"version_id": 424242})
        jobs.enqueue(session, kind="search.index", payload={"remove": [1]})
    session.close()
    jobs.run_pending(seeded)
    sign_in_admin(client)
    page = client.get("/admin/status")
    queue = re.search(r'<section class="queue".*?</section>', page.text, re.S)
    assert queue, "no queue section"
    assert re.search(r"<dt>Done</dt><dd>1</dd>", queue.group(0))
    assert re.search(r"<dt>Failed</dt><dd>1</dd>", queue.group(0))
    assert "the version no longer exists" in queue.group(0)
    assert "<code>ingest.previews</code>" in queue.group(0)


def test_the_change_stream_is_shown_with_each_consumer(
    seeded: Instance, client: TestClient
) -> None:
    from polaris.clock import utcnow
    from polaris.db.uow import unit_of_work
    from polaris.events import repo as events_repo
    from polaris.handlers import settle

    settle(seeded)
    with unit_of_work(seeded.sessions) as session:
        head = events_repo.head_position(session)
        events_repo.record_failure(
            session, "search.index", error="RuntimeError: index unreachable", now=utcnow()
        )
    sign_in_admin(client)
    page = client.get("/admin/status")
    stream = re.search(r'<section class="queue" id="events".*?</section>', page.text, re.S)
    assert stream, "no change stream section"
    assert re.search(rf"<dt>Head position</dt><dd>{head}</dd>", stream.group(0))
    assert "<dt>Oldest kept</dt><dd>1</dd>" in stream.group(0)
    for name in ("drive.usage", "ingest.derivatives", "search.index"):
        row = re.search(
            rf"<tr><td><code>{re.escape(name)}</code></td>.*?</tr>", stream.group(0), re.S
        )
        assert row, name
        assert re.search(rf"<td>{head}</td>\s*<td>0</td>", row.group(0)), name
    assert "RuntimeError: index unreachable" in stream.group(0)
    hindi = client.get("/admin/status", headers={"Accept-Language": "hi"})
    assert "परिवर्तन धारा" in hindi.text and "शीर्ष स्थिति" in hindi.text
