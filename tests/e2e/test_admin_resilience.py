"""The administrator's side of an attack in a real browser, under the real CSP: the incident
switch turned on (the banner on every page) and off, a quarantined file released, a retention
rule added and a legal hold placed. At 1366×768 and at 390 px wide nothing is wider than the
window, and axe finds no serious violation on the status and retention pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from polaris.audit.context import AuditContext
from polaris.config import load_settings
from polaris.db.uow import unit_of_work
from polaris.drive import content, scanning, spaces
from polaris.drive.models import FileVersion
from polaris.identity.actors import actor_for
from polaris.incident import service as incident
from polaris.instance import open_instance
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.e2e.test_admin import enrol_and_sign_in, fits_the_window
from tests.factories import make_user
from tests.live_server import Server

ADMIN = "admin.resilience"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def setting(live_server: Server) -> Iterator[int]:
    """The administrator, and a file of theirs the scan found infected: its id."""
    instance = open_instance(load_settings(live_server.data_dir))
    try:
        with unit_of_work(instance.sessions) as session:
            user = make_user(session, ADMIN, unit="PHQ", role="admin")
            actor = actor_for(session=session, user=user, auth_factors="password")
            root = spaces.ensure_user_space(session, user, spaces.SpaceDefaults()).root_id
            located, _, _ = content.commit_upload(
                session=session,
                actor=actor,
                context=AuditContext.system("test"),
                blobs=instance.blobs,
                content=b"a training handout quoting a test signature",
                parent_id=root,
                name="training-handout.txt",
            )
            node_id = located.node.id
        with unit_of_work(instance.sessions) as session:
            query = select(FileVersion).where(FileVersion.node_id == node_id)
            version = session.scalars(query).one()
            scanning.request_scan(session, version=version)
            scanning.record_verdict(
                session, sha256=version.sha256, state="infected", signature="Eicar-Test-Signature"
            )
        yield node_id
    finally:
        # Whatever happened, the other browser tests must find the instance writable.
        with unit_of_work(instance.sessions) as session:
            if incident.current(session=session) is not None:
                incident.turn_off(session=session, actor=None, context=AuditContext.system("test"))
        instance.close()


def test_incident_switch_quarantine_and_retention_in_the_browser(
    browser: Browser, page: Page, live_server: Server, setting: int
) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    enrol_and_sign_in(page, ADMIN)
    nav = page.get_by_role("navigation", name="Administration")

    # The incident switch: on with a reason, the banner shows, then off.
    page.goto("/admin/status")
    page.get_by_label("Reason (shown to every user, kept in the audit log)").fill(
        "ransomware found on PS-A1's workstation"
    )
    page.get_by_label("Make the whole instance read-only for everyone now.").check()
    page.get_by_role("button", name="Turn the switch on").click()
    expect(page.locator(".incident-banner")).to_contain_text("ransomware found on PS-A1")
    expect(page.locator("#incident")).to_contain_text("IST")
    assert fits_the_window(page)
    page.screenshot(path=str(SCREENSHOTS / "admin-incident-on.png"), full_page=True)
    page.get_by_label("The incident is dealt with: accept changes again.").check()
    page.get_by_role("button", name="Turn the switch off").click()
    expect(page.locator("#incident")).to_contain_text("Off: changes are accepted.")
    expect(page.locator(".incident-banner")).to_have_count(0)

    # The quarantined file, released as a false positive.
    held = page.locator("#malware article").filter(has_text="training-handout.txt")
    expect(held).to_contain_text("Eicar-Test-Signature")
    page.screenshot(path=str(SCREENSHOTS / "admin-status-quarantine.png"), full_page=True)
    held.get_by_label("Why it is a false positive").fill("training handout, checked by hand")
    held.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status").first).to_contain_text("The file is released")

    # A retention rule and a legal hold, from the retention page.
    nav.get_by_role("link", name="Retention and holds").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention and holds")
    page.get_by_label("A classification level", exact=True).check()
    page.get_by_label("Classification level", exact=True).select_option("secret")
    page.get_by_label("Keep old versions (years, 1 to 100; empty: no limit)").fill("25")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rules")).to_contain_text("Every file and folder at the level Secret")
    page.get_by_label("File or folder number").fill(str(setting))
    page.get_by_label("Reason (a court order, an inquiry)").fill("Court order W.P. 4471/2026")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.locator("#holds")).to_contain_text("Court order W.P. 4471/2026")
    assert fits_the_window(page)
    page.screenshot(path=str(SCREENSHOTS / "admin-retention.png"), full_page=True)
    assert refused == [], "the Content Security Policy refused something"

    # A phone's width, and axe, with the same session.
    for name, viewport in (("desktop", {"width": 1366, "height": 768}), ("phone", PHONE)):
        checker = browser.new_context(
            base_url=f"http://127.0.0.1:{live_server.port}", viewport=viewport, bypass_csp=True
        )
        checker.add_cookies(page.context.cookies())
        other = checker.new_page()
        for path in ("/admin/status", "/admin/retention", f"/drive/file/{setting}"):
            other.goto(path)
            assert fits_the_window(other), f"{path} is wider than the {name} window"
            assert violations(other) == [], path
            shot = path.strip("/").replace("/", "-")
            other.screenshot(path=str(SCREENSHOTS / f"{name}-{shot}.png"), full_page=True)
        checker.close()
