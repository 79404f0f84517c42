"""The chat page in Chromium: two officers in one group, each in a browser of their own.

A message sent by one appears in the other's open room without a reload (the WebSocket), with the
actions the server would render (reply; delete for the group's owner), and typing shows on the
other's page through the same channel; the other room's unread count and the header's go up; a file
picked from the drive is sent and downloaded through the room; a broadcast shows its
acknowledgement table by unit and a reminder button; axe finds nothing serious; at 390×844 nothing
is wider than the screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.chat import broadcasts, messages, rooms
from polaris.config import load_settings
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.identity.models import User
from polaris.instance import open_instance
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.e2e.test_sign_in import enrol, sign_in
from tests.factories import make_user
from tests.live_server import Server

PHONE: ViewportSize = {"width": 390, "height": 844}


def _actor(session: object, user: User) -> tuple[Actor, AuditContext]:
    actor = actor_for(session=session, user=user, auth_factors="password")  # type: ignore[arg-type]
    return actor, actor_context(actor, RequestInfo(request_id="e2e-chat"))


@pytest.fixture(scope="module")
def rooms_made(live_server: Server) -> dict[str, int]:
    """Two officers of PS-A1 in a group, a second group, and a broadcast from their district
    made by its head (set up in the server's database, as an administrator's tools would)."""
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    one = make_user(session, "chat.one", unit="PS-A1", role="constable")
    two = make_user(session, "chat.two", unit="PS-A1", role="constable")
    head = make_user(session, "chat.head", unit="SDV-A", role="subdivision_head")
    session.flush()
    actor, context = _actor(session, one)
    made = {}
    for name in ("ई2ई दल", "दूसरा दल"):
        room = rooms.create_group(
            session=session, actor=actor, context=context, name=name, invite_user_ids=(two.id,)
        )
        other, other_context = _actor(session, two)
        rooms.join(session=session, actor=other, context=other_context, room_id=room.id)
        made[name] = room.id
    boss, boss_context = _actor(session, head)
    cast = broadcasts.create_broadcast(
        session=session, actor=boss, context=boss_context, name="उप-मंडल आदेश"
    )
    messages.send_text(
        session=session,
        actor=boss,
        context=boss_context,
        room_id=cast.id,
        body="सभी थाने 10 बजे तक रिपोर्ट दें",
    )
    made["broadcast"] = cast.id
    session.commit()
    session.close()
    instance.close()
    return made


@pytest.fixture
def second(browser: Browser, live_server: Server) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport={"width": 1366, "height": 768}
    )
    opened = context.new_page()
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / "test_chat_second.png"), full_page=True)
    context.close()


def test_live_messages_unread_counts_and_a_drive_file(
    page: Page, second: Page, rooms_made: dict[str, int], tmp_path: Path
) -> None:
    room, other = rooms_made["ई2ई दल"], rooms_made["दूसरा दल"]
    sign_in(page, "chat.one")
    sign_in(second, "chat.two")
    second.goto(f"/chat/{room}")
    expect(second.get_by_role("heading", name="ई2ई दल")).to_be_visible()
    page.goto(f"/chat/{room}")
    page.get_by_label("Message", exact=True).fill("नमस्ते — live?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(second.locator("#timeline")).to_contain_text("नमस्ते — live?")  # no reload
    arrived = second.locator(".msg", has_text="नमस्ते — live?")
    expect(arrived.get_by_role("link", name="Reply to Chat.One")).to_be_visible()
    expect(arrived.get_by_role("link", name="Edit")).to_have_count(0)  # not theirs
    expect(arrived.get_by_role("button", name="Delete")).to_have_count(0)  # nor a moderator
    second.get_by_label("Message", exact=True).press_sequentially("जवाब")
    expect(page.locator("#typing")).to_contain_text("Chat.Two")  # over the live channel
    second.get_by_role("button", name="Send", exact=True).click()
    answer = page.locator(".msg", has_text="जवाब")
    expect(answer.get_by_role("link", name="Reply to Chat.Two")).to_be_visible()
    answer.get_by_role("button", name="Delete").click()  # the owner moderates
    expect(page.locator("#timeline")).not_to_contain_text("जवाब")
    expect(second.locator("#timeline")).to_contain_text("Message deleted")
    # a message into the other room: its count and the header's go up on the open page
    page.goto(f"/chat/{other}")
    page.get_by_label("Message", exact=True).fill("elsewhere")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(second.locator(f'[data-room="{other}"] .unread')).to_contain_text("1")
    expect(second.locator("#chat-unread")).to_be_visible()
    # upload into the drive and send it, from the room
    note = tmp_path / "सूचना.txt"
    note.write_text("थाना रिपोर्ट", encoding="utf-8")
    page.goto(f"/chat/{room}")
    page.get_by_label("Or upload a file into your drive and send it").set_input_files(str(note))
    expect(second.locator("#timeline")).to_contain_text("सूचना.txt")
    with second.expect_download() as download:
        second.get_by_role("link", name="सूचना.txt").click()
    assert Path(download.value.path()).read_text(encoding="utf-8") == "थाना रिपोर्ट"
    # the same file again, picked from the drive by the form
    page.reload()
    page.get_by_label("Send a file from your drive").select_option(label="सूचना.txt")
    page.get_by_role("button", name="Send file").click()
    expect(page.locator("#timeline .file")).to_have_count(2)


def test_broadcast_acknowledged_table_by_unit_and_remind(
    page: Page, second: Page, rooms_made: dict[str, int]
) -> None:
    cast = rooms_made["broadcast"]
    sign_in(second, "chat.two")
    second.goto(f"/chat/{cast}")
    expect(second.get_by_text("Only the sending unit's officers write here")).to_be_visible()
    second.get_by_role("button", name="Acknowledge").click()
    expect(second.get_by_role("button", name="Acknowledge")).to_have_count(0)
    sign_in(page, "chat.head")  # a supervisor's role signs in with a second factor
    enrol(page)
    page.goto(f"/chat/{cast}")
    table = page.get_by_role("table", name="Acknowledgements by unit")
    row = table.get_by_role("row", name="Unit PS-A1")
    expect(row).to_contain_text("Chat.Two")
    page.get_by_role("button", name="Remind those who have not acknowledged").click()
    expect(page).to_have_url(f"{page.url.split('/chat')[0]}/chat/{cast}")
    expect(page.get_by_role("table", name="Acknowledgements by unit")).to_be_visible()


def test_accessible_and_fits_a_phone(
    browser: Browser, live_server: Server, rooms_made: dict[str, int]
) -> None:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=PHONE, bypass_csp=True
    )
    phone = context.new_page()
    try:
        sign_in(phone, "chat.two")
        for url in ("/chat", f"/chat/{rooms_made['ई2ई दल']}"):
            phone.goto(url)
            assert violations(phone) == []
            assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "test_chat_phone.png"), full_page=True)
    finally:
        context.close()
