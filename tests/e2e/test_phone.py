"""Every page a station officer and an administrator reach, on a phone (390×844): nothing wider
than the screen (no sideways panning) and axe finds nothing serious; at 1366×768 a folder shows
at least 12 rows without scrolling; the account menu opens and closes by keyboard and the
language switch keeps the page's query string.

With ``POLARIS_DOCS_SCREENSHOTS=before`` (or ``after``) set, the folder, header and chat are also
photographed at both sizes into ``docs/screenshots/`` (docs/ui.md shows them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Cookie, Page, ViewportSize, expect

from polaris.chat import messages, rooms
from polaris.config import load_settings
from polaris.drive import service as drive
from polaris.drive.sidebar import sidebar_of
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.instance import open_instance
from tests.e2e.folder_page import upload
from tests.e2e.test_accessibility import violations
from tests.e2e.test_admin import enrol_and_sign_in
from tests.e2e.test_sign_in import sign_in
from tests.factories import make_user
from tests.live_server import Server

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
OFFICER = "sho.phone"
CONSTABLE = "ct.phone"
ADMIN = "admin.phone"
FOLDERS = 14
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def seeded(live_server: Server) -> dict[str, int]:
    """A station head and a constable (who needs no second factor: the tests that sign in again
    use them), each with a folder of 14 subfolders and a chat group; an administrator."""
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    officer = make_user(session, OFFICER, unit="PS-A1", role="station_head")
    constable = make_user(session, CONSTABLE, unit="PS-A1", role="constable")
    make_user(session, ADMIN, unit="PHQ", role="admin")
    session.flush()
    made: dict[str, int] = {}
    for user, key in ((officer, ""), (constable, "ct_")):
        actor = actor_for(session=session, user=user, auth_factors="password")
        context = actor_context(actor, RequestInfo(request_id="e2e-phone"))
        own = sidebar_of(session=session, actor=actor, settings=instance.settings)[0]
        case = drive.create_folder(
            session=session, actor=actor, context=context, parent_id=own.root_id, name="केस फ़ाइलें"
        )
        for number in range(1, FOLDERS + 1):
            drive.create_folder(
                session=session,
                actor=actor,
                context=context,
                parent_id=case.node.id,
                name=f"FIR {number:03d}-2026 थाना कोतवाली",
            )
        room = rooms.create_group(session=session, actor=actor, context=context, name="थाना दल")
        messages.send_text(
            session=session,
            actor=actor,
            context=context,
            room_id=room.id,
            body="रात्रि गश्त की रिपोर्ट 6 बजे तक भेजें।",
        )
        made |= {f"{key}space": own.id, f"{key}case": case.node.id, f"{key}room": room.id}
    session.commit()
    session.close()
    instance.close()
    return made


@pytest.fixture
def phone(browser: Browser, live_server: Server) -> Iterator[Page]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=PHONE, bypass_csp=True
    )
    opened = context.new_page()
    yield opened
    context.close()


def check(page: Page, url: str) -> None:
    """``url`` loads, fits the screen's width and has no serious accessibility violation."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{url} scrolls sideways at 390 px: {widths}"
    assert violations(page) == [], url


def officer_pages(page: Page, seeded: dict[str, int], tmp_path: Path) -> list[str]:
    """The officer's pages, a file uploaded and a selection started to reach them all."""
    page.goto(f"/drive/{seeded['case']}")
    note = tmp_path / "रोज़नामचा.txt"
    note.write_text("थाना कोतवाली: रात्रि गश्त, कोई घटना नहीं।\n" * 20, encoding="utf-8")
    upload(page, str(note))
    page.get_by_role("link", name=note.name, exact=True).click()
    file_url = page.url.split("://", 1)[1].split("/", 1)[1]
    file_id = int(re.findall(r"\d+", file_url)[-1])
    page.goto(f"/drive/{seeded['case']}")
    page.get_by_role("checkbox", name=re.compile("FIR 001")).check()
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    destination = "/" + page.url.split("://", 1)[1].split("/", 1)[1]
    assert destination.startswith("/destination?"), destination
    return [
        "/",
        f"/drive/{seeded['case']}",
        f"/drive/{seeded['case']}?sort=size&order=desc",
        f"/drive/file/{file_id}",
        f"/drive/file/{file_id}/text",
        f"/drive/file/{file_id}/versions",
        f"/drive/node/{file_id}/shares",
        destination,
        "/shared",
        f"/trash/{seeded['space']}",
        "/search?q=%E0%A4%A5%E0%A4%BE%E0%A4%A8%E0%A4%BE",
        "/chat",
        f"/chat/{seeded['room']}",
        "/account/password",
        "/account/app-passwords",
        "/account/matrix",
    ]


ADMIN_PAGES = [
    "/admin",
    "/admin/units",
    "/admin/users",
    "/admin/users/new",
    f"/admin/user/{OFFICER}",
    "/admin/users/import",
    "/admin/unit/PS-A1",
    "/admin/groups",
    "/admin/audit",
    "/admin/audit?searches=show",
    "/admin/status",
    "/admin/retention",
    "/account/password",
    "/account/app-passwords",
    "/account/matrix",
    "/search?q=FIR",
    "/chat",
    "/shared",
]


@pytest.mark.slow
def test_every_officer_page_fits_a_phone(
    phone: Page, seeded: dict[str, int], tmp_path: Path
) -> None:
    enrol_and_sign_in(phone, OFFICER)
    for url in officer_pages(phone, seeded, tmp_path):
        check(phone, url)
    # The account menu, by keyboard: its summary opens it, Escape-free (a <details>).
    phone.goto(f"/drive/{seeded['case']}")
    menu = phone.locator("details.account-menu > summary")
    menu.focus()
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("link", name="Change password")).to_be_visible()
    expect(phone.get_by_role("button", name="Sign out")).to_be_in_viewport()
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("link", name="Change password")).to_be_hidden()


@pytest.mark.slow
def test_every_admin_page_fits_a_phone(phone: Page, seeded: dict[str, int]) -> None:
    check(phone, "/login")
    enrol_and_sign_in(phone, ADMIN)
    for url in ADMIN_PAGES:
        check(phone, url)


def test_language_applies_at_once_and_keeps_the_sort(
    browser: Browser, live_server: Server, seeded: dict[str, int]
) -> None:
    context = browser.new_context(base_url=f"http://127.0.0.1:{live_server.port}", viewport=DESKTOP)
    page = context.new_page()
    try:
        sign_in(page, CONSTABLE)
        page.goto(f"/drive/{seeded['ct_case']}?sort=name&order=desc")
        # At 1366×768 the folder shows at least 12 rows above the fold.
        rows = page.evaluate(
            """() => [...document.querySelectorAll('table.nodes tbody tr')]
                 .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length"""
        )
        assert rows >= 12, f"only {rows} rows visible at 1366x768"
        page.locator("details.account-menu > summary").click()
        with page.expect_navigation():
            page.get_by_label("Language").select_option("hi")
        assert page.url.endswith(f"/drive/{seeded['ct_case']}?sort=name&order=desc"), page.url
        expect(page.locator("html")).to_have_attribute("lang", "hi")
        expect(page.locator("table.nodes tbody tr").first).to_contain_text("FIR 014")
        # The times are Indian Standard Time, in Hindi, with the zone.
        expect(page.locator("table.nodes tbody tr").first).to_contain_text("IST")
        page.locator("details.account-menu > summary").click()
        with page.expect_navigation():
            page.get_by_label("भाषा").select_option("en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()


def shrink(path: Path) -> None:
    """A screenshot in 256 colours: a third of the bytes, the same to read."""
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(256)
    small.save(path, optimize=True)


@pytest.mark.skipif(
    not os.environ.get("POLARIS_DOCS_SCREENSHOTS"), reason="docs screenshots only on request"
)
def test_docs_screenshots(browser: Browser, live_server: Server, seeded: dict[str, int]) -> None:
    stage = os.environ["POLARIS_DOCS_SCREENSHOTS"]
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    desktop_cookies: list[Cookie] = []
    for size in (DESKTOP, PHONE):
        context = browser.new_context(
            base_url=f"http://127.0.0.1:{live_server.port}", viewport=size
        )
        page = context.new_page()
        try:
            if size is DESKTOP:
                sign_in(page, CONSTABLE)
            else:
                context.add_cookies(desktop_cookies)
            width = size["width"]
            page.goto(f"/drive/{seeded['ct_case']}")
            page.screenshot(path=str(DOCS_SHOTS / f"folder-{stage}-{width}.png"))
            menu = page.locator("details.account-menu > summary")
            if menu.count():
                menu.click()
            page.screenshot(
                path=str(DOCS_SHOTS / f"header-{stage}-{width}.png"),
                clip={"x": 0, "y": 0, "width": width, "height": 360},
            )
            page.goto(f"/chat/{seeded['ct_room']}")
            page.screenshot(path=str(DOCS_SHOTS / f"chat-{stage}-{width}.png"))
            for name in ("folder", "header", "chat"):
                shrink(DOCS_SHOTS / f"{name}-{stage}-{width}.png")
            desktop_cookies = context.cookies()
        finally:
            context.close()
