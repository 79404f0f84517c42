"""Setting a file's classification from its page (issue 14): an officer who owns the file raises
it, and is then offered only that level and above: lowering is for heads of units and
administrators (``access.policy``, rule 7)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from polaris.config import load_settings
from polaris.instance import open_instance
from tests.e2e.folder_page import upload
from tests.e2e.test_accessibility import violations
from tests.e2e.test_phone import PHONE
from tests.e2e.test_sign_in import sign_in
from tests.factories import make_user
from tests.live_server import Server

OWNER = "hc.classify"


def test_the_form_offers_only_upward_levels_after_raising(
    browser: Browser, live_server: Server, tmp_path: Path
) -> None:
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    make_user(session, OWNER, unit="PS-A2", role="head_constable")
    session.commit()
    session.close()
    instance.close()
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=PHONE, bypass_csp=True
    )
    page = context.new_page()
    try:
        sign_in(page, OWNER)
        memo = tmp_path / "गोपनीय ज्ञापन.txt"
        memo.write_text("x", encoding="utf-8")
        upload(page, [str(memo)])
        page.get_by_role("link", name="गोपनीय ज्ञापन.txt", exact=True).click()
        levels = page.get_by_label("Classification").locator("option")
        expect(levels).to_have_text(["Unclassified", "Restricted"])
        page.get_by_label("Classification").select_option("restricted")
        page.get_by_role("button", name="Set classification").click()
        expect(page.get_by_label("Classification").locator("option")).to_have_text(["Restricted"])
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"the file page scrolls sideways: {widths}"
        assert violations(page) == []
    finally:
        context.close()
