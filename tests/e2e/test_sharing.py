"""Sharing as an officer does it, under the real content security policy: the picker finds a
colleague by part of a Hindi name (keyboard) and a unit by its code; the recipient sees the unread
count in the header, the notification, "Shared with me" with who and when, opens a file's page,
walks a shared folder whose path starts at the share, and is offered no Move or Delete. At
1366×768, and the picker and the recipient's pages again at 390×844 with nothing wider than it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.folder_page import row_action, upload
from tests.e2e.test_sign_in import sign_in
from tests.e2e.waits import wait_for_unread
from tests.live_server import Server

DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


def signed_in(browser: Browser, server: Server, username: str, viewport: ViewportSize) -> Page:
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.port}", viewport=viewport)
    page = context.new_page()
    sign_in(page, username)
    return page


def make_folder(page: Page, name: str) -> None:
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()


def pick(page: Page, typed: str, option: str) -> None:
    """Type into the picker and choose the suggestion that holds ``option``, by keyboard."""
    field = page.get_by_role("combobox", name="Name, rank, unit or group")
    field.fill(typed)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox.get_by_role("option", name=re.compile(re.escape(option))).first).to_be_visible()
    names = listbox.get_by_role("option").all_inner_texts()
    index = next(i for i, name in enumerate(names) if option in name)
    for _ in range(index + 1):
        field.press("ArrowDown")
    field.press("Enter")
    expect(listbox).to_be_hidden()


def no_wider_than_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # type: ignore[index]


def test_share_by_picking_then_the_recipient_is_told_and_finds_it(
    browser: Browser, live_server: Server, tmp_path: Path
) -> None:
    sharer = signed_in(browser, live_server, "hc.share", DESKTOP)
    make_folder(sharer, "FIR 77")
    sharer.get_by_role("link", name="FIR 77", exact=True).click()
    make_folder(sharer, "फ़ोटो")
    statement = tmp_path / "बयान.txt"
    statement.write_text("गवाह का बयान", encoding="utf-8")
    upload(sharer, str(statement))
    row_action(sharer, "बयान.txt", "Share")
    pick(sharer, "ps-b1", "(PS-B1)")  # a unit, by its code in lower case
    expect(sharer.get_by_label("A unit")).to_be_checked()
    sharer.get_by_role("button", name="Share", exact=True).click()
    expect(sharer.get_by_role("cell", name="Unit PS-B1", exact=True)).to_be_visible()
    sharer.goto("/")
    row_action(sharer, "FIR 77", "Share")
    pick(sharer, "यादव", "रमेश यादव")  # a person, by part of the Hindi name
    expect(sharer.get_by_label("A person")).to_be_checked()
    sharer.get_by_role("button", name="Share", exact=True).click()
    expect(sharer.get_by_role("cell", name="ry.share", exact=True)).to_be_visible()
    sharer.context.close()

    recipient = signed_in(browser, live_server, "ry.share", DESKTOP)
    wait_for_unread(recipient)
    recipient.reload()
    badge = recipient.locator("#notifications-unread")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("2")
    recipient.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(recipient.get_by_role("link", name="Hc.Share shared FIR 77 with you")).to_be_visible()
    recipient.screenshot(path=str(SCREENSHOTS / "notifications.png"), full_page=True)
    recipient.get_by_role("link", name="Hc.Share shared FIR 77 with you").click()

    # The shared folder: its path starts at the share, and only what is allowed is offered.
    crumbs = recipient.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs.get_by_role("link")).to_have_text(["Shared with me"])
    expect(crumbs).not_to_contain_text("My files")
    expect(recipient.get_by_role("heading", level=1)).to_contain_text("FIR 77")
    expect(recipient.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    expect(recipient.get_by_role("button", name="Move", exact=True)).to_have_count(0)
    expect(recipient.get_by_role("button", name="Delete", exact=True)).to_have_count(0)
    expect(recipient.get_by_role("link", name="Trash")).to_have_count(0)
    recipient.get_by_role("link", name="फ़ोटो", exact=True).click()
    crumbs.get_by_role("link", name="FIR 77", exact=True).click()
    expect(recipient.get_by_role("heading", level=1)).to_contain_text("FIR 77")
    recipient.screenshot(path=str(SCREENSHOTS / "shared-folder.png"), full_page=True)

    # Shared with me: who and when; a file opens its page, not a download.
    recipient.get_by_role("link", name="Shared with me").first.click()
    row = recipient.get_by_role("row", name=re.compile("बयान.txt"))
    expect(row).to_contain_text("Hc.Share")
    expect(row).to_contain_text("IST")
    row.get_by_role("link", name="बयान.txt").click()
    expect(recipient).to_have_url(re.compile(r"/drive/file/\d+$"))
    expect(recipient.get_by_role("heading", level=1)).to_contain_text("बयान.txt")
    file_crumbs = recipient.get_by_role("navigation", name="Breadcrumbs")
    expect(file_crumbs.get_by_role("link")).to_have_text(["Shared with me", "FIR 77"])

    recipient.get_by_role("link", name=re.compile("^Notifications")).click()
    recipient.get_by_role("button", name="Mark all as read").click()
    expect(recipient.locator("#notifications-unread")).to_be_hidden()
    recipient.context.close()


def test_on_a_phone_the_picker_and_the_shared_pages_fit(
    browser: Browser, live_server: Server
) -> None:
    sharer = signed_in(browser, live_server, "hc.share", PHONE)
    make_folder(sharer, "phone case")
    row_action(sharer, "phone case", "Share")
    sharer.get_by_role("combobox", name="Name, rank, unit or group").fill("रमेश")
    option = sharer.get_by_role("option", name=re.compile("रमेश यादव"))
    expect(option).to_be_visible()
    box = option.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    no_wider_than_the_screen(sharer)
    sharer.screenshot(path=str(SCREENSHOTS / "picker-phone.png"), full_page=True)
    option.click()
    sharer.get_by_role("button", name="Share", exact=True).click()
    expect(sharer.get_by_role("cell", name="ry.share", exact=True)).to_be_visible()
    sharer.context.close()

    recipient = signed_in(browser, live_server, "ry.share", PHONE)
    wait_for_unread(recipient)
    for url in ("/notifications", "/shared"):
        recipient.goto(url)
        no_wider_than_the_screen(recipient)
    recipient.get_by_role("link", name="phone case", exact=True).click()
    expect(recipient.get_by_role("heading", level=1)).to_contain_text("phone case")
    no_wider_than_the_screen(recipient)
    recipient.context.close()
