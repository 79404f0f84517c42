"""Chat's notifications in the header (issue 14): a direct message, an invitation to a group and a
broadcast to acknowledge reach the bell's count through the change stream; the list says who and
where, in English and Hindi, and leads to the room; at 390 px nothing scrolls sideways, axe clean.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from polaris.chat import broadcasts, messages, rooms
from polaris.config import load_settings
from polaris.instance import open_instance
from tests.e2e.test_accessibility import violations
from tests.e2e.test_chat import _actor
from tests.e2e.test_phone import PHONE
from tests.e2e.waits import wait_for_unread
from tests.factories import PASSWORD, make_user
from tests.live_server import Server


@pytest.fixture(scope="module")
def told(live_server: Server) -> dict[str, int]:
    """note.two gets a direct message from note.one (twice: one notification), an invitation to
    a group, and a broadcast of their sub-division's head (made in the server's database)."""
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    one = make_user(session, "note.one", unit="PS-A2", role="constable")
    two = make_user(session, "note.two", unit="PS-A2", role="constable")
    one.rank, one.full_name = "HC", "सुनील शर्मा"
    head = make_user(session, "note.head", unit="SDV-A", role="subdivision_head")
    session.flush()
    actor, context = _actor(session, one)
    direct = rooms.create_direct(
        session=session, actor=actor, context=context, other_user_id=two.id
    )
    for body in ("थाने आइए", "जल्दी"):
        messages.send_text(
            session=session, actor=actor, context=context, room_id=direct.id, body=body
        )
    group = rooms.create_group(
        session=session, actor=actor, context=context, name="गश्त दल", invite_user_ids=(two.id,)
    )
    boss, boss_context = _actor(session, head)
    cast = broadcasts.create_broadcast(
        session=session, actor=boss, context=boss_context, name="नोट आदेश"
    )
    messages.send_text(
        session=session, actor=boss, context=boss_context, room_id=cast.id, body="पावती दें"
    )
    session.commit()
    made = {"direct": direct.id, "group": group.id, "broadcast": cast.id}
    session.close()
    instance.close()
    return made


def test_the_bell_counts_chat_notifications_and_leads_to_the_room(
    browser: Browser, live_server: Server, told: dict[str, int]
) -> None:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=PHONE, bypass_csp=True
    )
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Username").fill("note.two")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("My files")
        wait_for_unread(page, 3)  # the consumer runs in the server
        page.goto("/notifications")
        badge = page.locator("#notifications-unread")
        expect(badge).to_be_visible()
        direct = page.get_by_role("link", name="New messages from HC सुनील शर्मा")
        expect(direct).to_have_count(1)  # two direct messages are one notification
        expect(page.get_by_role("link", name="HC सुनील शर्मा invited you to गश्त दल")).to_be_visible()
        expect(
            page.get_by_role("link", name=re.compile("sent a broadcast in नोट आदेश: please"))
        ).to_be_visible()
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"the list scrolls sideways: {widths}"
        assert violations(page) == []
        direct.click()
        expect(page).to_have_url(re.compile(rf"/chat/{told['direct']}$"))
        expect(page.locator("#timeline")).to_contain_text("जल्दी")

        # In Hindi, the same list in Hindi words.
        page.context.add_cookies(
            [{"name": "polaris_lang", "value": "hi", "url": f"http://127.0.0.1:{live_server.port}"}]
        )
        page.goto("/notifications")
        expect(page.get_by_role("link", name="HC सुनील शर्मा के नए संदेश")).to_be_visible()
        expect(
            page.get_by_role("link", name="HC सुनील शर्मा ने आपको गश्त दल में आमंत्रित किया")
        ).to_be_visible()
    finally:
        context.close()
