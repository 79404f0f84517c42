"""The malware scan's list on the status page: an administrator releases a false positive (a
reason required) or deletes quarantined content for good (a ticked confirmation); the file's page
then says it was released. Administrators only, each form with its CSRF field."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polaris.db.uow import unit_of_work
from polaris.drive import scanning
from polaris.drive.models import ContentScan, FileVersion, Node
from polaris.instance import Instance
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_drive_pages import put
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

SIGNATURE = "Eicar-Test-Signature"


def quarantined(instance: Instance, username: str, name: str, data: bytes) -> tuple[int, str]:
    """A file of ``username`` whose content the scan found infected: its id and SHA-256."""
    node_id = put(instance, username, name, data)
    with unit_of_work(instance.sessions) as session:
        version = session.scalars(select(FileVersion).where(FileVersion.node_id == node_id)).one()
        scanning.request_scan(session, version=version)
        scanning.record_verdict(
            session, sha256=version.sha256, state=scanning.INFECTED, signature=SIGNATURE
        )
        return node_id, version.sha256


def malware_part(html: str) -> str:
    found = re.search(r'<section class="queue" id="malware".*?</section>', html, re.S)
    assert found, "no malware section"
    return found.group(0)


def state_of(instance: Instance, sha256: str) -> str | None:
    with instance.sessions() as session:
        scan = session.get(ContentScan, sha256)
        return None if scan is None else scan.state


def test_a_false_positive_is_released_with_a_reason(seeded: Instance, client: TestClient) -> None:
    node_id, sha = quarantined(seeded, "ct.one", "course.txt", b"EICAR in a training handout")
    sign_in_admin(client)
    page = client.get("/admin/status")
    listed = malware_part(page.text)
    assert "course.txt" in listed and SIGNATURE in listed and "ct.one" in listed
    assert f'action="/admin/scan/{sha}/release"' in listed

    csrf = csrf_of(page.text)
    no_reason = client.post(f"/admin/scan/{sha}/release", data={"csrf": csrf, "reason": " "})
    assert no_reason.status_code == 422 and "Give the reason" in no_reason.text
    assert state_of(seeded, sha) == "infected"

    done = client.post(
        f"/admin/scan/{sha}/release", data={"csrf": csrf, "reason": "training handout"}
    )
    assert done.status_code == 200 and "The file is released" in done.text
    assert "course.txt" not in malware_part(done.text)
    assert state_of(seeded, sha) == "passed"
    [record] = records(seeded, "content.release")
    assert (record.actor_name, record.reason) == ("admin.one", "training handout")

    again = client.post(
        f"/admin/scan/{sha}/release", data={"csrf": csrf, "reason": "training handout"}
    )
    assert again.status_code == 409 and "neither quarantined nor held" in again.text

    client.cookies.clear()
    sign_in(client, "ct.one")
    file_page = client.get(f"/drive/file/{node_id}")
    assert "an administrator released it as a false positive: training handout" in file_page.text
    assert client.get(f"/api/v1/files/{node_id}/content").status_code == 200


def test_quarantined_content_is_deleted_for_good_after_confirmation(
    seeded: Instance, client: TestClient
) -> None:
    node_id, sha = quarantined(seeded, "ct.one", "dropper.exe", b"MZ pretend malware")
    sign_in_admin(client)
    csrf = csrf_of(client.get("/admin/status").text)
    unticked = client.post(f"/admin/scan/{sha}/delete", data={"csrf": csrf})
    assert unticked.status_code == 422 and "Tick the box to confirm" in unticked.text
    bad_hash = client.post("/admin/scan/not-a-hash/delete", data={"csrf": csrf, "confirm": "yes"})
    assert bad_hash.status_code == 422
    with seeded.sessions() as session:
        assert session.get(Node, node_id) is not None

    done = client.post(f"/admin/scan/{sha}/delete", data={"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 200 and "deleted for good" in done.text
    with seeded.sessions() as session:
        assert session.get(Node, node_id) is None
    assert state_of(seeded, sha) == "infected"  # the verdict stays for the same bytes
    [record] = records(seeded, "content.delete")
    assert record.actor_name == "admin.one" and record.version_hash == sha
    gone = client.post(f"/admin/scan/{sha}/delete", data={"csrf": csrf, "confirm": "yes"})
    assert gone.status_code == 404 and "No file holds this content any more." in gone.text


def test_only_administrators_act_and_only_with_the_form_token(
    seeded: Instance, client: TestClient
) -> None:
    _, sha = quarantined(seeded, "ct.one", "x.exe", b"MZ more pretend malware")
    sign_in(client, "ct.one")
    csrf = csrf_of(client.get("/", follow_redirects=True).text)
    for action, data in (("release", {"reason": "mine"}), ("delete", {"confirm": "yes"})):
        refused = client.post(f"/admin/scan/{sha}/{action}", data={"csrf": csrf, **data})
        assert refused.status_code == 403 and "Only administrators may do this." in refused.text
    client.cookies.clear()
    sign_in_admin(client)
    for action, data in (("release", {"reason": "ok"}), ("delete", {"confirm": "yes"})):
        refused = client.post(f"/admin/scan/{sha}/{action}", data=data)
        assert refused.status_code == 403 and "This form has expired." in refused.text
    assert state_of(seeded, sha) == "infected"
    assert records(seeded, "content.release") == [] and records(seeded, "content.delete") == []
