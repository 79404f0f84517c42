"""A broadcast's acknowledgement table on the chat page in Hindi mode (issue 14): units shown by
their Hindi names, on the page as drawn and in the rows the live update redraws when someone
acknowledges (without a reload); at 390 px nothing scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from polaris.chat import broadcasts, messages
from polaris.config import load_settings
from polaris.identity import units
from polaris.instance import open_instance
from tests.e2e.test_chat import _actor
from tests.e2e.test_phone import PHONE
from tests.e2e.test_sign_in import enrol, sign_in
from tests.factories import SYSTEM, make_user
from tests.live_server import Server

HINDI_UNIT = "थाना नौ"


@pytest.fixture(scope="module")
def cast(live_server: Server) -> int:
    """A station with a Hindi name below SDV-A, an officer there, and a broadcast from SDV-A's
    head (made in the server's database)."""
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    units.create_unit(
        session=session,
        spec=units.UnitSpec(
            "PS-A9", "Unit PS-A9", units.UnitKind.STATION, "SDV-A", name_hi=HINDI_UNIT
        ),
        context=SYSTEM,
    )
    make_user(session, "ack.one", unit="PS-A9", role="constable")
    head = make_user(session, "ack.head", unit="SDV-A", role="subdivision_head")
    session.flush()
    actor, context = _actor(session, head)
    room = broadcasts.create_broadcast(
        session=session, actor=actor, context=context, name="पावती आदेश"
    )
    messages.send_text(
        session=session, actor=actor, context=context, room_id=room.id, body="पावती दें"
    )
    session.commit()
    session.close()
    instance.close()
    return room.id


def test_hindi_unit_names_in_the_table_and_its_live_rows(
    browser: Browser, live_server: Server, cast: int
) -> None:
    base = f"http://127.0.0.1:{live_server.port}"
    head = browser.new_context(base_url=base, viewport=PHONE).new_page()
    officer = browser.new_context(base_url=base, viewport=PHONE).new_page()
    try:
        sign_in(head, "ack.head")
        enrol(head)
        head.context.add_cookies([{"name": "polaris_lang", "value": "hi", "url": base}])
        head.goto(f"/chat/{cast}")
        table = head.locator("table.acks")
        row = table.get_by_role("row", name=HINDI_UNIT)
        expect(row).to_be_visible()
        expect(table).not_to_contain_text("Unit PS-A9")
        expect(row.locator("td").nth(1)).to_contain_text("Ack.One")  # not yet

        sign_in(officer, "ack.one")
        officer.goto(f"/chat/{cast}")
        officer.get_by_role("button", name="Acknowledge").click()
        expect(officer.get_by_role("button", name="Acknowledge")).to_have_count(0)

        # The head's page, not reloaded: the row redrawn, by its Hindi name.
        expect(row.locator("td").first).to_contain_text("Ack.One")
        expect(row.locator("td").nth(1)).not_to_contain_text("Ack.One")
        expect(table).not_to_contain_text("Unit PS-A9")
        widths = head.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"the chat page scrolls sideways: {widths}"
    finally:
        head.context.close()
        officer.context.close()
