"""Uploading a name that is already in the folder, in a real browser: a dialog asks to replace it
(a new version), keep both ("name (2).ext") or skip it; the overall progress bar and the warning
before leaving while uploads run. At 1366×768 and 390×844, axe finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e import folder_page
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.folder_page import upload
from tests.e2e.test_accessibility import violations
from tests.e2e.test_sign_in import sign_in
from tests.live_server import Server

PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1366, "height": 768}


def open_page(browser: Browser, live_server: Server, viewport: ViewportSize) -> Iterator[Page]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=viewport, bypass_csp=True
    )
    yield context.new_page()
    context.close()


@pytest.fixture(params=["laptop", "phone"])
def any_page(
    browser: Browser, live_server: Server, request: pytest.FixtureRequest
) -> Iterator[Page]:
    yield from open_page(browser, live_server, LAPTOP if request.param == "laptop" else PHONE)


def new_folder(page: Page, name: str) -> None:
    """A folder made through the New menu (``tests/e2e/folder_page.py``), then opened."""
    folder_page.new_folder(page, name)
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def test_a_taken_name_asks_and_keeps_both_or_replaces(
    any_page: Page, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    page = any_page
    wide = page.viewport_size == LAPTOP
    sign_in(page, "hc.files")
    new_folder(page, f"टकराव {'laptop' if wide else 'phone'}")
    report = tmp_path / "रिपोर्ट.txt"
    report.write_text("first", encoding="utf-8")
    upload(page, str(report))
    expect(page.get_by_role("link", name="रिपोर्ट.txt", exact=True)).to_be_visible()

    report.write_text("second", encoding="utf-8")
    page.get_by_label("Upload files").set_input_files(str(report))
    dialog = page.get_by_role("dialog", name="A file with this name is already here")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("रिपोर्ट.txt")
    # While the dialog waits, the upload runs: one overall bar, and leaving the page warns.
    expect(page.get_by_role("progressbar", name="All uploads")).to_be_visible()
    warned = page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert warned
    box = dialog.bounding_box()
    assert (
        box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    )  # type: ignore[index]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"upload-conflict-{request.node.callspec.id}.png"))
    assert violations(page) == []
    with page.expect_navigation():
        dialog.get_by_role("button", name="Keep both").click()
    expect(page.get_by_role("link", name="रिपोर्ट (2).txt", exact=True)).to_be_visible()

    report.write_text("third", encoding="utf-8")
    page.get_by_label("Upload files").set_input_files(str(report))
    with page.expect_navigation():
        dialog.get_by_role("button", name="Replace (new version)").click()
    expect(page.get_by_role("link", name="रिपोर्ट (3).txt", exact=True)).to_have_count(0)
    leaving = page.evaluate(
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert not leaving  # nothing runs any more
    page.get_by_role("link", name="रिपोर्ट.txt", exact=True).click()
    expect(page.locator("body")).to_contain_text("third")


def test_the_file_page_sets_a_classification(
    browser: Browser, live_server: Server, tmp_path: Path
) -> None:
    for page in open_page(browser, live_server, LAPTOP):
        sign_in(page, "hc.files")
        new_folder(page, "वर्गीकरण")
        note = tmp_path / "note.txt"
        note.write_text("note", encoding="utf-8")
        upload(page, str(note))
        page.get_by_role("link", name="note.txt", exact=True).click()
        levels = page.get_by_label("Classification")
        assert levels.locator("option").all_inner_texts() == ["Unclassified", "Restricted"]
        assert violations(page) == []
        levels.select_option("restricted")
        page.get_by_role("button", name="Set classification").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Restricted")
        expect(page.get_by_label("Classification")).to_have_value("restricted")
