"""An administrator's release (a false positive) and delete of quarantined or held content
(``drive.quarantine``): the content is served again or gone from every file holding it, each
audited; a legal hold refuses a delete; nobody else may do either (refusals audited).

The verdicts are recorded through ``drive.scanning`` as the scan job records them (clamd itself
is tested in test_scanning.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.db.uow import unit_of_work
from polaris.drive import holds, quarantine, scanning
from polaris.drive.models import ContentScan, FileVersion
from polaris.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.drive.conftest import Drive
from tests.support.events import EventLog

API = "/api/v1"
EVIL = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*" + b" " * 100
SIGNATURE = "Eicar-Test-Signature"


def actor(drive: Drive, who: str) -> Actor:
    with drive.instance.sessions() as session:
        user = session.get(User, drive.user_ids[who])
        assert user is not None
        return actor_for(session=session, user=user, auth_factors="password")


def context(who: str) -> AuditContext:
    return AuditContext.system(who)


def judge(drive: Drive, node_id: int, state: str, **verdict: Any) -> str:
    """Record a verdict on the current content of a file, as the scan job does; its SHA-256."""
    with unit_of_work(drive.instance.sessions) as session:
        version = session.scalars(
            select(FileVersion)
            .where(FileVersion.node_id == node_id)
            .order_by(FileVersion.number.desc())
        ).first()
        assert version is not None
        scanning.request_scan(session, version=version)
        scanning.record_verdict(session, sha256=version.sha256, state=state, **verdict)
        return version.sha256


def records(drive: Drive, action: str) -> list[AuditRecord]:
    with drive.instance.sessions() as session:
        return list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
            )
        )


def scan_row(drive: Drive, sha256: str) -> ContentScan | None:
    with drive.instance.sessions() as session:
        return session.get(ContentScan, sha256)


def versions(drive: Drive, node_id: int) -> list[tuple[int, int | None]]:
    """(number, restored_from) of each version of a file, oldest first."""
    with drive.instance.sessions() as session:
        rows = session.execute(
            select(FileVersion.number, FileVersion.restored_from)
            .where(FileVersion.node_id == node_id)
            .order_by(FileVersion.number)
        )
        return [(number, restored) for number, restored in rows]


def test_a_release_serves_the_content_again_and_keeps_who_and_why(drive: Drive) -> None:
    node = drive.upload("hc.a1", drive.root("hc.a1"), "training.txt", EVIL)["id"]
    sha = judge(drive, node, scanning.INFECTED, signature=SIGNATURE)
    refused = drive.get("hc.a1", f"{API}/files/{node}/content")
    assert refused.status_code == 403 and refused.json()["code"] == "file_quarantined"
    log = EventLog(drive.instance.sessions)

    admin = actor(drive, "admin")
    with unit_of_work(drive.instance.sessions) as session:
        quarantine.release_content(
            session=session,
            actor=admin,
            context=context("admin"),
            sha256=sha,
            reason="  EICAR test string in the   cyber-hygiene course ",
        )
    assert drive.get("hc.a1", f"{API}/files/{node}/content").content == EVIL
    row = scan_row(drive, sha)
    assert row is not None
    assert (row.state, row.signature, row.released_by) == ("passed", SIGNATURE, admin.user_id)
    assert row.detail == "EICAR test string in the cyber-hygiene course"
    [record] = records(drive, "content.release")
    assert record.reason == "EICAR test string in the cyber-hygiene course"
    assert record.version_hash == sha and record.detail_value == {
        "was": "infected",
        "signature": SIGNATURE,
    }
    assert [kind for kind, *_ in log.take()] == ["version.scanned"]  # search takes its text

    with pytest.raises(Conflict) as again, unit_of_work(drive.instance.sessions) as session:
        quarantine.release_content(
            session=session, actor=admin, context=context("admin"), sha256=sha, reason="twice"
        )
    assert again.value.code == "not_quarantined"


def test_a_release_needs_a_reason_and_an_administrator(drive: Drive) -> None:
    node = drive.upload("hc.a1", drive.root("hc.a1"), "x.txt", EVIL)["id"]
    sha = judge(drive, node, scanning.INFECTED, signature=SIGNATURE)
    with pytest.raises(ValidationFailed) as empty, unit_of_work(drive.instance.sessions) as s:
        quarantine.release_content(
            session=s, actor=actor(drive, "admin"), context=context("admin"), sha256=sha, reason=" "
        )
    assert empty.value.code == "reason_required"
    for call in ("release", "delete"):
        with pytest.raises(PermissionDenied) as denied, unit_of_work(drive.instance.sessions) as s:
            if call == "release":
                quarantine.release_content(
                    session=s, actor=actor(drive, "sho.a1"), context=context("sho.a1"),
                    sha256=sha, reason="mine",
                )  # fmt: skip
            else:
                quarantine.delete_content(
                    session=s, actor=actor(drive, "sho.a1"), context=context("sho.a1"),
                    blobs=drive.instance.blobs, sha256=sha,
                )  # fmt: skip
        assert denied.value.code == "admin_required"
    refusals = [
        (r.object_id, r.decision, r.reason)
        for r in records(drive, "access.admin")
        if r.object_id.startswith("content.")
    ]
    assert refusals == [
        ("content.release", "deny", "not_admin"),
        ("content.delete", "deny", "not_admin"),
    ]
    row = scan_row(drive, sha)
    assert row is not None and row.state == "infected"


def test_a_delete_removes_the_content_from_every_file_that_holds_it(drive: Drive) -> None:
    root = drive.root("hc.a1")
    only = drive.upload("hc.a1", root, "dropper.exe", EVIL)["id"]
    # A report overwritten with the same bytes: the report comes back as a new version.
    report = drive.upload("hc.a1", root, "report.txt", b"the original report" * 10)["id"]
    put = drive.put("hc.a1", f"{API}/files/{report}/content", content=EVIL)
    assert put.status_code == 200, put.text
    # A file that once held them: only that old version goes.
    older = drive.upload("hc.a1", root, "notes.txt", EVIL)["id"]
    put = drive.put("hc.a1", f"{API}/files/{older}/content", content=b"clean notes" * 10)
    assert put.status_code == 200, put.text
    sha = judge(drive, only, scanning.INFECTED, signature=SIGNATURE)
    before = drive.used_bytes("hc.a1")
    report_v1 = _version_id(drive, report, 1)
    log = EventLog(drive.instance.sessions)

    with unit_of_work(drive.instance.sessions) as session:
        deleted = quarantine.delete_content(
            session=session,
            actor=actor(drive, "admin"),
            context=context("admin"),
            blobs=drive.instance.blobs,
            sha256=sha,
        )
    assert (deleted.versions, deleted.files_purged, deleted.files_restored) == (3, 1, 1)
    # Three copies of the bytes went; the report's 190 came back as its version 3.
    assert deleted.released_bytes == 3 * len(EVIL) - 190
    assert drive.used_bytes("hc.a1") == before - deleted.released_bytes

    assert drive.get("hc.a1", f"{API}/nodes/{only}").status_code == 404
    assert versions(drive, report) == [(1, None), (3, report_v1)]
    assert (
        drive.get("hc.a1", f"{API}/files/{report}/content").content == b"the original report" * 10
    )
    assert versions(drive, older) == [(2, None)]
    assert drive.get("hc.a1", f"{API}/files/{older}/content").content == b"clean notes" * 10

    kinds = [kind for kind, *_ in log.take()]
    assert kinds.count("node.purged") == 1 and kinds.count("version.deleted") == 2
    assert kinds.count("version.restored") == 1
    [summary] = records(drive, "content.delete")
    assert summary.actor_name == "admin" and summary.version_hash == sha
    assert summary.detail_value["versions"] == 3 and summary.detail_value["files_purged"] == 1
    assert [r.object_id for r in records(drive, "node.purge")] == [str(only)]
    assert sorted(r.object_id for r in records(drive, "file.delete_version")) == sorted(
        [str(report), str(older)]
    )
    # The verdict stays: the same bytes brought in again are quarantined at once.
    again = drive.upload("hc.a1", root, "again.exe", EVIL)["id"]
    refused = drive.get("hc.a1", f"{API}/files/{again}/content")
    assert refused.status_code == 403 and refused.json()["code"] == "file_quarantined"


def _version_id(drive: Drive, node_id: int, number: int) -> int:
    with drive.instance.sessions() as session:
        found = session.scalar(
            select(FileVersion.id).where(
                FileVersion.node_id == node_id, FileVersion.number == number
            )
        )
        assert found is not None
        return int(found)


def test_a_legal_hold_refuses_the_delete_and_keeps_everything(drive: Drive) -> None:
    folder = drive.folder("hc.a1", drive.root("hc.a1"), "Case 12")["id"]
    node = drive.upload("hc.a1", folder, "seized.bin", EVIL)["id"]
    sha = judge(drive, node, scanning.INFECTED, signature=SIGNATURE)
    with unit_of_work(drive.instance.sessions) as session:
        holds.place_hold(
            session=session, actor=None, context=context("cli"), node_id=folder, reason="evidence"
        )
    with pytest.raises(Conflict) as held, unit_of_work(drive.instance.sessions) as session:
        quarantine.delete_content(
            session=session,
            actor=actor(drive, "admin"),
            context=context("admin"),
            blobs=drive.instance.blobs,
            sha256=sha,
        )
    assert held.value.code == "legal_hold"
    assert versions(drive, node) == [(1, None)]
    [refusal] = [r for r in records(drive, "content.delete") if r.decision == "deny"]
    assert (refusal.object_id, refusal.reason) == (str(node), "legal_hold")


def test_deleting_content_whose_scan_failed_forgets_its_scan(drive: Drive) -> None:
    node = drive.upload("hc.a1", drive.root("hc.a1"), "big.iso", b"unscanned" * 50)["id"]
    sha = judge(drive, node, scanning.ERROR, detail="not scanned: clamd unavailable")
    with unit_of_work(drive.instance.sessions) as session:
        quarantine.delete_content(
            session=session,
            actor=actor(drive, "admin"),
            context=context("admin"),
            blobs=drive.instance.blobs,
            sha256=sha,
        )
    assert scan_row(drive, sha) is None  # the same bytes brought in again are scanned afresh
    with pytest.raises(NotFound) as gone, unit_of_work(drive.instance.sessions) as session:
        quarantine.delete_content(
            session=session,
            actor=actor(drive, "admin"),
            context=context("admin"),
            blobs=drive.instance.blobs,
            sha256=sha,
        )
    assert gone.value.code == "content_not_found"
