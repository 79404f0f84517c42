"""A refused rename stays on the folder page (issue 14, "error messages from inline forms"): the
row's form open with what was typed, the reason and a name to use instead, with and without a
script, in English and Hindi, inside a phone's width and axe clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from polaris.config import load_settings
from polaris.instance import open_instance
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.folder_page import new_folder, row_action
from tests.e2e.folder_page import upload as upload_files
from tests.e2e.test_accessibility import violations
from tests.e2e.test_phone import PHONE
from tests.e2e.test_sign_in import sign_in
from tests.factories import PASSWORD, make_user
from tests.live_server import Server

OWNER = "hc.rename"
CASE = "अपराध क्र. 45/2026"
OFFERED = "अपराध क्र. 45\u22152026"


@pytest.fixture(scope="module")
def person(live_server: Server) -> str:
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    make_user(session, OWNER, unit="PS-A2", role="head_constable")
    session.commit()
    session.close()
    instance.close()
    return OWNER


def _context(browser: Browser, live_server: Server, **options: object) -> Iterator[Page]:
    context = browser.new_context(base_url=f"http://127.0.0.1:{live_server.port}", **options)  # type: ignore[arg-type]
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser, live_server: Server, person: str) -> Iterator[Page]:
    yield from _context(browser, live_server, viewport=PHONE, bypass_csp=True)


def _row(page: Page, name: str) -> Locator:
    return page.locator(f'tr[data-name="{name}"]')


def _fits(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def test_a_refused_rename_stays_in_the_row_with_the_reason(phone: Page, tmp_path: Path) -> None:
    page = phone
    sign_in(page, OWNER)
    new_folder(page, "नाम बदलो")
    page.get_by_role("link", name="नाम बदलो", exact=True).click()
    new_folder(page, "पहले से")
    note = tmp_path / "FIR.txt"
    note.write_text("x", encoding="utf-8")
    upload_files(page, [str(note)])

    # A slash in a case number: the reason, what was typed, and the look-alike one click away.
    row_action(page, "FIR.txt", "Rename")
    field = _row(page, "FIR.txt").get_by_label("New name")
    field.fill(CASE)
    with page.expect_navigation():
        field.press("Enter")
    row = _row(page, "FIR.txt")
    alert = row.get_by_role("alert")
    expect(alert).to_contain_text("For a case number such as 45/2026, write 45-2026")
    expect(row.get_by_label("New name")).to_have_value(CASE)
    expect(row.get_by_label("New name")).to_have_attribute("aria-invalid", "true")
    expect(row.get_by_label("New name")).to_be_focused()
    _fits(page)
    assert violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "rename-refused-390.png"))

    # A name that exists: said so, and the typed name kept.
    row.get_by_label("New name").fill("पहले से")
    with page.expect_navigation():
        row.get_by_role("button", name="Save").click()
    expect(_row(page, "FIR.txt").get_by_role("alert")).to_contain_text("already in this folder")
    expect(_row(page, "FIR.txt").get_by_label("New name")).to_have_value("पहले से")

    # Cancel hides the reason with the form; the sort links still lead to the folder.
    _row(page, "FIR.txt").get_by_role("link", name="Cancel").click()
    expect(_row(page, "FIR.txt").get_by_role("alert")).to_be_hidden()
    expect(page.get_by_role("link", name="FIR.txt", exact=True)).to_be_visible()

    # Too long: the reason, and a name cut to whole letters offered.
    row_action(page, "FIR.txt", "Rename")
    _row(page, "FIR.txt").get_by_label("New name").fill("क" * 90)
    with page.expect_navigation():
        _row(page, "FIR.txt").get_by_label("New name").press("Enter")
    expect(_row(page, "FIR.txt").get_by_role("alert")).to_contain_text("at most 255 bytes")
    _fits(page)

    # The slash again, then the offered name: renamed, back in the folder.
    _row(page, "FIR.txt").get_by_label("New name").fill(CASE)
    with page.expect_navigation():
        _row(page, "FIR.txt").get_by_label("New name").press("Enter")
    with page.expect_navigation():
        _row(page, "FIR.txt").get_by_role("button", name=f"Rename to “{OFFERED}” instead").click()
    expect(page.get_by_role("link", name=OFFERED, exact=True)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_a_refused_rename_without_a_script_in_hindi(
    browser: Browser, live_server: Server, person: str
) -> None:
    for page in _context(
        browser, live_server, java_script_enabled=False, locale="hi-IN", viewport=PHONE
    ):
        page.goto("/login")  # in Hindi: the fields by their ids
        page.locator("#username").fill(OWNER)
        page.locator("#password").fill(PASSWORD)
        page.locator("#password").press("Enter")
        page.get_by_text("नया", exact=True).click()
        page.get_by_label("नया फ़ोल्डर").fill("बिना स्क्रिप्ट नाम")
        page.get_by_role("button", name="बनाएँ").click()
        page.get_by_label("बिना स्क्रिप्ट नाम के लिए कार्य", exact=True).first.click()
        page.get_by_role("menuitem", name="नाम बदलें", exact=True).click()
        row = _row(page, "बिना स्क्रिप्ट नाम")
        row.get_by_label("नया नाम").fill("a\u202etxt")
        row.get_by_role("button", name="सहेजें").click()
        alert = row.get_by_role("alert")
        expect(alert).to_be_visible()
        expect(alert).not_to_contain_text("invisible")  # Hindi, not English
        expect(row.get_by_label("नया नाम")).to_have_value("a\u202etxt")
        expect(alert.get_by_role("button")).to_contain_text("a_txt")
        _fits(page)
