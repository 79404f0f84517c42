"""Malware scanning of uploads against a real clamd (``tests/support/clamd.py``): quarantine,
the hold before the scan, clamd down under ``hold`` and ``pass``, and files above the limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from polaris.app import create_app
from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.drive import scanning
from polaris.drive.models import ContentScan
from polaris.handlers import settle
from polaris.jobs.models import Job
from tests.drive.conftest import Drive, make_instance, seed
from tests.support.clamd import EICAR, SIGNATURE, Clamd
from tests.web.test_pages import sign_in

API = "/api/v1"
CLEAN = b"an ordinary report\n" * 100


@pytest.fixture
def scanned(engine: Engine, tmp_path: Path, clamd: Clamd) -> Iterator[Drive]:
    """The drive of ``tests/drive/conftest.py`` with scanning on, against the test clamd."""
    connection = engine.connect()
    outer = connection.begin()
    instance = make_instance(
        connection, tmp_path, scan={"clamd": clamd.socket, "max_bytes": clamd.stream_max}
    )
    session = instance.sessions()
    tokens, user_ids, unit_ids = seed(session)
    session.commit()
    session.close()
    try:
        app = create_app(instance, seal_periodically=False, run_jobs=False)
        with TestClient(app, base_url="https://testserver") as client:
            yield Drive(client, instance, tokens, user_ids, unit_ids)
    finally:
        outer.rollback()
        connection.close()


def upload_shared(drive: Drive, name: str, data: bytes, permission: str = "read") -> int:
    """hc.a1 uploads into their own space and shares the file with si.a1 (the uploader may share
    before the scan); the file's id."""
    node = drive.upload("hc.a1", drive.root("hc.a1"), name, data)
    share = {"subject_type": "user", "subject_id": drive.user_ids["si.a1"]}
    response = drive.post(
        "hc.a1", f"{API}/nodes/{node['id']}/shares", json={**share, "permission": permission}
    )
    assert response.status_code == 201, response.text
    return int(node["id"])


def scan_row(drive: Drive, data: bytes) -> ContentScan:
    import hashlib

    session = drive.instance.sessions()
    try:
        found = session.get(ContentScan, hashlib.sha256(data).hexdigest())
        assert found is not None
        return found
    finally:
        session.close()


def download(drive: Drive, who: str, node_id: int):  # type: ignore[no-untyped-def]
    return drive.get(who, f"{API}/files/{node_id}/content")


def test_a_clean_file_is_held_from_others_until_its_scan_then_served(scanned: Drive) -> None:
    node_id = upload_shared(scanned, "report.bin", CLEAN)
    assert scan_row(scanned, CLEAN).state == scanning.PENDING
    # The uploader reads their own file before the scan; no one else does.
    assert download(scanned, "hc.a1", node_id).content == CLEAN
    held = download(scanned, "si.a1", node_id)
    assert held.status_code == 403
    assert held.json()["code"] == "scan_pending"
    settle(scanned.instance)
    assert scan_row(scanned, CLEAN).state == scanning.CLEAN
    assert download(scanned, "si.a1", node_id).content == CLEAN
    # Now si.a1 may pass it on (with a manage share) like any file: see the EICAR test's refusal.


def test_eicar_is_quarantined_for_everyone_and_told(scanned: Drive) -> None:
    node_id = upload_shared(scanned, "invoice.bin", b"prefix " + EICAR, permission="manage")
    settle(scanned.instance)
    found = scan_row(scanned, b"prefix " + EICAR)
    assert (found.state, found.signature) == (scanning.INFECTED, f"{SIGNATURE}.UNOFFICIAL")
    for who in ("hc.a1", "si.a1"):  # not even the uploader: a clear refusal
        refused = download(scanned, who, node_id)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "file_quarantined"
    share = {"subject_type": "user", "subject_id": scanned.user_ids["hc.a2"]}
    passed_on = scanned.post("si.a1", f"{API}/nodes/{node_id}/shares", json=share)
    assert passed_on.json()["code"] == "file_quarantined"
    # Denials are audited like the others, with the rule's reason.
    session = scanned.instance.sessions()
    reasons = session.scalars(
        select(AuditRecord.reason).where(AuditRecord.decision == "deny")
    ).all()
    verdicts = session.scalars(
        select(AuditRecord.action).where(AuditRecord.action == "content.scan_infected")
    ).all()
    session.close()
    assert reasons.count("quarantined") == 3
    assert verdicts == ["content.scan_infected"]
    # The same bytes copied or uploaded again are quarantined at once, without a second scan.
    again = scanned.upload("hc.a1", scanned.root("hc.a1"), "again.bin", b"prefix " + EICAR)
    assert download(scanned, "hc.a1", again["id"]).json()["code"] == "file_quarantined"


def test_quarantined_content_is_not_previewed(scanned: Drive) -> None:
    node_id = upload_shared(scanned, "notes.txt", EICAR)
    settle(scanned.instance)
    app = create_app(scanned.instance, seal_periodically=False, run_jobs=False)
    with TestClient(app, base_url="https://testserver") as browser:
        sign_in(browser, "si.a1")
        page = browser.get(f"/drive/file/{node_id}")
        assert page.status_code == 200
        assert "quarantined" in page.text.lower()
        assert "EICAR-STANDARD" not in page.text
        session = scanned.instance.sessions()
        version_id = scan_row(scanned, EICAR).version_id
        session.close()
        thumbnail = browser.get(f"/drive/file/{node_id}/thumbnail/{version_id}")
        assert thumbnail.status_code == 403


def test_clamd_down_with_hold_keeps_the_file_held_and_retries(
    scanned: Drive, tmp_path: Path
) -> None:
    scanned.instance.settings.scan.clamd = str(tmp_path / "no-clamd.sock")
    node_id = upload_shared(scanned, "held.bin", CLEAN)
    settle(scanned.instance)  # the scan fails and waits for its backoff
    assert scan_row(scanned, CLEAN).state == scanning.PENDING
    assert download(scanned, "si.a1", node_id).json()["code"] == "scan_pending"
    session = scanned.instance.sessions()
    job = session.scalars(select(Job).where(Job.kind == scanning.SCAN_JOB)).one()
    session.close()
    assert (job.status, job.attempts) == ("queued", 1)
    assert "cannot reach clamd" in (job.error or "")


def test_clamd_down_with_pass_serves_the_file_with_a_warning(
    scanned: Drive, tmp_path: Path
) -> None:
    scanned.instance.settings.scan.clamd = str(tmp_path / "no-clamd.sock")
    scanned.instance.settings.scan.when_unavailable = "pass"
    node_id = upload_shared(scanned, "passed.bin", CLEAN)
    settle(scanned.instance)
    found = scan_row(scanned, CLEAN)
    assert found.state == scanning.PASSED
    assert "cannot reach clamd" in (found.detail or "")
    assert download(scanned, "si.a1", node_id).content == CLEAN


def test_a_file_larger_than_clamd_accepts_is_judged_on_its_first_bytes(
    scanned: Drive, clamd: Clamd
) -> None:
    big = b"x" * (clamd.stream_max + 300_000)
    early = EICAR + big  # malware in the part that is scanned: quarantined
    late = big + EICAR  # only past the limit: not seen, served with the warning recorded
    early_id = upload_shared(scanned, "early.bin", early)
    late_id = upload_shared(scanned, "late.bin", late)
    settle(scanned.instance)
    assert scan_row(scanned, early).state == scanning.INFECTED
    assert download(scanned, "si.a1", early_id).json()["code"] == "file_quarantined"
    late_scan = scan_row(scanned, late)
    assert late_scan.state == scanning.PASSED
    assert f"only the first {clamd.stream_max} of {len(late)} bytes" in (late_scan.detail or "")
    assert download(scanned, "si.a1", late_id).content == late


def test_without_scanning_nothing_is_held(engine: Engine, tmp_path: Path) -> None:
    """The default (no clamd configured): files are served at once, as before."""
    from tests.drive.conftest import drive_on

    for drive in drive_on(engine, tmp_path):
        assert not drive.instance.settings.scan.active
        node_id = upload_shared(drive, "plain.bin", EICAR)
        assert download(drive, "si.a1", node_id).content == EICAR
        settle(drive.instance)
        session = drive.instance.sessions()
        assert session.scalars(select(ContentScan)).all() == []
        session.close()


def test_held_content_is_not_searchable_until_its_scan_clears_it(
    scanned: Drive, tmp_path: Path
) -> None:
    reachable = scanned.instance.settings.scan.clamd
    scanned.instance.settings.scan.clamd = str(tmp_path / "no-clamd.sock")
    text = b"the witness named zebracornite in her statement\n" * 20
    node_id = upload_shared(scanned, "statement.txt", text)
    settle(scanned.instance)  # text extracted and indexed; the scan waits for its retry

    def found(who: str, word: str) -> list[int]:
        response = scanned.get(who, f"{API}/search", params={"q": word})
        assert response.status_code == 200, response.text
        return [hit["node"]["id"] for hit in response.json()["hits"]]

    assert scan_row(scanned, text).state == scanning.PENDING
    assert found("si.a1", "statement") == [node_id]  # its name is searchable
    assert found("si.a1", "zebracornite") == []  # its text is not, for anyone
    assert found("hc.a1", "zebracornite") == []
    scanned.instance.settings.scan.clamd = reachable
    session = scanned.instance.sessions()
    with session.begin():  # the retry is due now
        session.execute(update(Job).where(Job.kind == scanning.SCAN_JOB).values(run_after=utcnow()))
    session.close()
    settle(scanned.instance)
    assert scan_row(scanned, text).state == scanning.CLEAN
    assert found("si.a1", "zebracornite") == [node_id]
