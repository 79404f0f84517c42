"""The chat page's forms in Chromium: a direct conversation started by choosing a person from
the directory's typeahead, a group made and someone invited (chosen the same way) who joins, a
reply, an edit and a deletion of one's own message, the message search box leading to the
message in its room, and the group renamed and a member removed by its owner; axe finds nothing
serious on the new parts (the typeahead open too) and at 390×844 nothing is wider than the
screen.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from polaris.config import load_settings
from polaris.instance import open_instance
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.e2e.test_chat import PHONE
from tests.e2e.test_sign_in import sign_in
from tests.factories import make_user
from tests.live_server import Server

DESK: ViewportSize = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def people(live_server: Server) -> None:
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    make_user(session, "form.one", unit="PS-A1", role="constable")
    make_user(session, "form.two", unit="PS-A1", role="constable")
    session.commit()
    session.close()
    instance.close()


def test_direct_group_invite_reply_edit_delete_and_search(
    page: Page, browser: Browser, live_server: Server, people: None
) -> None:
    sign_in(page, "form.one")
    page.goto("/chat")
    page.get_by_label("Start a conversation with").press_sequentially("m.tw")
    page.get_by_role("option", name="Form.Two").click()
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.get_by_role("heading", name="Direct conversation with Form.Two")).to_be_visible()
    page.get_by_label("Message", exact=True).fill("सीधा संदेश")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#timeline")).to_contain_text("सीधा संदेश")

    page.goto("/chat")
    page.get_by_label("New group").fill("फ़ॉर्म दल")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="फ़ॉर्म दल")).to_be_visible()
    page.get_by_label("Invite someone").press_sequentially("form.t")
    page.get_by_role("option", name="Form.Two").click()
    page.get_by_role("button", name="Invite", exact=True).click()
    room_url = page.url

    other = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport={"width": 1366, "height": 768}
    ).new_page()
    try:
        sign_in(other, "form.two")
        other.goto("/chat")
        other.get_by_role("link", name="फ़ॉर्म दल").click()
        expect(other.get_by_text("You are invited to this conversation.")).to_be_visible()
        other.get_by_role("button", name="Join").click()
        other.get_by_label("Message", exact=True).fill("पहुँच गया")
        other.get_by_role("button", name="Send", exact=True).click()
        expect(other.locator("#timeline")).to_contain_text("पहुँच गया")
    finally:
        other.context.close()

    page.goto(room_url)
    page.get_by_role("link", name="Reply to Form.Two").click()
    expect(page.get_by_text("Replying to Form.Two:")).to_be_visible()
    page.get_by_label("Message", exact=True).fill("स्वागत है")
    page.get_by_role("button", name="Send", exact=True).click()
    mine = page.locator(".msg", has_text="स्वागत है")
    expect(mine.locator(".reply-to")).to_contain_text("Form.Two: पहुँच गया")
    mine.get_by_role("link", name="Edit").click()
    page.get_by_label("Change the message").fill("स्वागत है, दल में")
    page.get_by_role("button", name="Save").click()
    edited = page.locator(".msg", has_text="स्वागत है, दल में")
    expect(edited).to_contain_text("edited")
    expect(
        page.locator(".msg", has_text="पहुँच गया", has_not_text="स्वागत").get_by_role(
            "link", name="Edit"
        )
    ).to_have_count(0)
    edited.get_by_role("button", name="Delete").click()
    expect(page.locator("#timeline")).not_to_contain_text("स्वागत है, दल में")

    # Messages reach the index in a background job: wait until it has this one (as the
    # files' search test does), then search through the page.
    deadline = time.monotonic() + 60
    while not page.evaluate(
        """async word => {
            const response = await fetch("/api/v1/chat/search?q=" + encodeURIComponent(word));
            return response.ok && (await response.json()).hits.length > 0;
        }""",
        "सीधा",
    ):
        assert time.monotonic() < deadline, "the message never reached the search index"
        page.wait_for_timeout(250)
    page.get_by_label("Search messages").fill("सीधा")
    rooms = page.get_by_role("navigation", name="Conversations")
    rooms.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("1 message found")).to_be_visible()
    page.locator(".message-hits a").first.click()
    expect(page.locator(".msg:target")).to_contain_text("सीधा संदेश")

    page.goto(room_url)
    members = page.locator("#members")
    expect(members).to_contain_text("Form.Two")
    page.get_by_label("Group name").fill("फ़ॉर्म दल २")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="फ़ॉर्म दल २")).to_be_visible()
    page.get_by_role("button", name="Remove Form.Two").click()
    expect(page.locator("#members")).not_to_contain_text("Form.Two")


def test_new_parts_are_accessible_and_fit_a_phone(
    browser: Browser, live_server: Server, people: None
) -> None:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=PHONE, bypass_csp=True
    )
    phone = context.new_page()
    try:
        sign_in(phone, "form.one")
        phone.goto("/chat")
        group = phone.get_by_role("link", name="फ़ॉर्म दल २").get_attribute("href")
        for url in (
            "/chat?people=form",
            "/chat/search?q=%E0%A4%B8%E0%A5%80%E0%A4%A7%E0%A4%BE",
            f"{group}?people=form",
        ):
            for size in (PHONE, DESK):
                phone.set_viewport_size(size)
                phone.goto(url)
                assert violations(phone) == [], url
                assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        phone.set_viewport_size(PHONE)
        phone.goto("/chat")
        phone.get_by_label("Start a conversation with").press_sequentially("form")
        expect(phone.locator(".suggestions [role=option]").first).to_be_visible()
        assert violations(phone) == []
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "test_chat_forms_phone.png"), full_page=True)
    finally:
        context.close()
