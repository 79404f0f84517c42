"""Editing and transferring an officer in a real browser, at 1366×768 and on a 390×844 phone: the
edit is saved, a transfer to an unknown unit comes back as typed with the reason beside the form,
a good one moves the officer; each page fits the width and axe finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from polaris.config import load_settings
from polaris.instance import open_instance
from tests.e2e.test_accessibility import violations
from tests.e2e.test_admin import enrol_and_sign_in, fits_the_window
from tests.factories import make_user
from tests.live_server import Server

SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 768},
    "phone": {"width": 390, "height": 844},
}


@pytest.fixture(params=sorted(SIZES))
def sized(
    request: pytest.FixtureRequest, browser: Browser, live_server: Server
) -> Iterator[tuple[Page, str]]:
    """A page at one size (``bypass_csp`` lets axe's script in), with an administrator and an
    officer of their own for this size."""
    size = request.param
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    make_user(session, f"admin.chg.{size}", unit="PHQ", role="admin")
    make_user(session, f"ravi.{size}", unit="PS-A1", role="constable")
    session.commit()
    session.close()
    instance.close()
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=SIZES[size], bypass_csp=True
    )
    opened = context.new_page()
    yield opened, size
    context.close()


def looks_right(page: Page) -> None:
    assert fits_the_window(page), page.url
    assert violations(page) == [], page.url


def test_an_officer_is_edited_and_transferred(sized: tuple[Page, str]) -> None:
    page, size = sized
    enrol_and_sign_in(page, f"admin.chg.{size}")
    page.goto(f"/admin/user/ravi.{size}")
    looks_right(page)

    page.get_by_label("Full name").fill("Ravi Sharma")
    page.get_by_label("Rank (optional)").fill("SI")
    page.get_by_label("Role").select_option("sub_inspector")
    page.get_by_label("Clearance").select_option("confidential")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("The changes are saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ravi Sharma")

    page.get_by_label("New unit (code)").fill("PS-NOWHERE")
    page.get_by_role("button", name="Transfer", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("unit PS-NOWHERE is not a known unit")
    expect(page.get_by_label("New unit (code)")).to_have_value("PS-NOWHERE")
    looks_right(page)

    page.get_by_label("New unit (code)").fill("PS-B1")
    page.get_by_role("button", name="Transfer", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The officer is transferred to")
    expect(page.get_by_label("New unit (code)")).to_have_value("PS-B1")
    looks_right(page)
