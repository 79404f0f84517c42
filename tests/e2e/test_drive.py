"""The drive in a real browser: create a folder, upload by button and by drop, rename, trash and
restore. Names that look like HTML stay text."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.folder_page import row_action, upload
from tests.e2e.test_sign_in import sign_in
from tests.live_server import Server

HOSTILE = "<img src=x onerror=alert(1)>.txt"


def test_upload_by_button_and_by_drop_then_rename_trash_and_restore(
    page: Page, tmp_path: Path
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "hc.drive")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("केस फ़ाइलें")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="केस फ़ाइलें", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("केस फ़ाइलें")

    report = tmp_path / "प्रथम सूचना रिपोर्ट.pdf"
    report.write_bytes(b"%PDF-1.4 " + b"x" * 5_000_000)  # more than one 4 MiB piece
    upload(page, str(report))
    expect(page.get_by_role("link", name="प्रथम सूचना रिपोर्ट.pdf", exact=True)).to_be_visible()
    expect(page.get_by_text("4.8 MB")).to_be_visible()

    # A drop of a file whose name looks like HTML, built in the page as a browser would.
    with page.expect_navigation():
        page.evaluate(
            """name => {
                const transfer = new DataTransfer();
                transfer.items.add(new File(["evidence"], name, { type: "text/plain" }));
                const drop = document.getElementById("drop");  // shown while files are dragged
                const event = new DragEvent("drop", { dataTransfer: transfer, bubbles: true });
                drop.dispatchEvent(event);
            }""",
            HOSTILE,
        )
    expect(page.get_by_role("link", name=HOSTILE, exact=True)).to_be_visible()
    assert dialogs == [], "a file name ran as script"

    row = page.get_by_role("row").filter(has_text="प्रथम सूचना रिपोर्ट.pdf")
    row_action(page, "प्रथम सूचना रिपोर्ट.pdf", "Rename")
    row.get_by_label("New name").fill("FIR 12-2026.pdf")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="FIR 12-2026.pdf", exact=True)).to_be_visible()

    row_action(page, "FIR 12-2026.pdf", "Delete")
    expect(page.get_by_role("link", name="FIR 12-2026.pdf", exact=True)).to_have_count(0)
    page.get_by_role("link", name="Trash", exact=True).click()
    page.get_by_role("button", name="Restore FIR 12-2026.pdf").click()
    expect(page.get_by_role("link", name="FIR 12-2026.pdf", exact=True)).to_be_visible()


def test_uploading_a_name_again_adds_a_version_and_an_old_one_can_be_restored(
    page: Page, tmp_path: Path
) -> None:
    sign_in(page, "hc.drive")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("आदेश")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="आदेश", exact=True).click()
    order = tmp_path / "order.txt"
    order.write_text("first draft", encoding="utf-8")
    upload(page, str(order))
    # The same name again asks first (tests/e2e/test_upload_conflict.py): a new version.
    order.write_text("second draft", encoding="utf-8")
    page.get_by_label("Upload files").set_input_files(str(order))
    with page.expect_navigation():
        page.get_by_role("dialog").get_by_role("button", name="Replace (new version)").click()
    row_action(page, "order.txt", "Versions")
    expect(page.get_by_role("cell", name="2 (current)")).to_be_visible()
    page.get_by_role("button", name="Restore version 1").click()
    expect(page.get_by_role("cell", name="3 (current)")).to_be_visible()
    current = page.evaluate(
        """async () => {
            const link = document.querySelector('a[aria-label="Download version 3"]');
            return await (await fetch(link.href)).text();
        }"""
    )
    assert current == "first draft"


def test_share_with_an_officer_of_another_station_who_then_sees_it(
    browser: Browser, page: Page, live_server: Server, tmp_path: Path
) -> None:
    sign_in(page, "hc.drive")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("साझा")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="साझा", exact=True).click()
    memo = tmp_path / "ज्ञापन.txt"
    memo.write_text("जब्ती सूची संलग्न है", encoding="utf-8")
    upload(page, str(memo))
    file_url = page.get_by_role("link", name="ज्ञापन.txt", exact=True).get_attribute("href")
    assert file_url
    row_action(page, "ज्ञापन.txt", "Share")
    page.get_by_label("Name, rank, unit or group").fill("hc.e2e")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("cell", name="hc.e2e", exact=True)).to_be_visible()

    def as_officer(username: str) -> Page:
        context = browser.new_context(base_url=f"http://127.0.0.1:{live_server.port}")
        other = context.new_page()
        sign_in(other, username)
        return other

    recipient = as_officer("hc.e2e")  # PS-B1: another station, another range
    recipient.get_by_role("link", name="Shared with me").click()
    expect(recipient.get_by_role("link", name="ज्ञापन.txt", exact=True)).to_be_visible()
    fetched = recipient.evaluate("async url => (await fetch(url)).status", file_url)
    assert fetched == 200
    recipient.screenshot(path=str(SCREENSHOTS / "shared-with-me.png"), full_page=True)
    recipient.context.close()

    outsider = as_officer("ct.e2e")  # PS-A1: not shared with, not the owner's unit
    outsider.get_by_role("link", name="Shared with me").click()
    expect(outsider.get_by_text("Nothing is shared with you.")).to_be_visible()
    assert outsider.evaluate("async url => (await fetch(url)).status", file_url) == 404
    outsider.context.close()
