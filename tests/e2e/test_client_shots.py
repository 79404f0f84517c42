"""The pages a person sees when connecting a sync client (docs/clients.md): the login flow v2's
**Connect an app** page, as the Nextcloud desktop client opens it in the browser, before and
after **Grant access**, and **Account → App passwords** with the password the grant made. At
1366×768 and 390×844, neither scrolling sideways.

``POLARIS_CLIENT_SHOTS=1`` also saves them under ``docs/screenshots/clients-*.png``."""

from __future__ import annotations

import json
import os
import urllib.request

from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_phone import DESKTOP, DOCS_SHOTS, PHONE, shrink
from tests.e2e.test_sign_in import sign_in
from tests.live_server import Server

#: What Debian's nextcloudcmd 3.7.3 sends as its User-Agent (the page names the app by it).
CLIENT = (
    "Mozilla/5.0 (Linux) mirall/3.7.3git (Nextcloud, debian-6.1.0-amd64 "
    "ClientArchitecture: x86_64 OsArchitecture: x86_64)"
)


def _start_flow(server: Server) -> str:
    """What the desktop client does first: ``POST /index.php/login/v2``; the page to open."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/index.php/login/v2",
        method="POST",
        headers={"User-Agent": CLIENT},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (http, loopback)
        return str(json.loads(answer.read())["login"])


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{name} scrolls sideways at {size['width']} px: {widths}"
        if os.environ.get("POLARIS_CLIENT_SHOTS"):
            DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
            path = DOCS_SHOTS / f"clients-{name}-{size['width']}.png"
            page.screenshot(path=str(path), full_page=full_page)
            shrink(path)
    page.set_viewport_size(DESKTOP)


def test_connecting_a_desktop_client_fits_a_pc_and_a_phone(
    browser: Browser, live_server: Server
) -> None:
    context = browser.new_context(base_url=f"http://127.0.0.1:{live_server.port}", viewport=DESKTOP)
    page = context.new_page()
    try:
        login = _start_flow(live_server)
        sign_in(page, "hc.e2e")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.goto(login)
        expect(page.get_by_role("heading", name="Connect an app")).to_be_visible()
        expect(page.get_by_text("Nextcloud desktop 3.7.3 (Linux) asks")).to_be_visible()
        _shot(page, "login-flow")
        page.get_by_role("button", name="Grant access").click()
        expect(page.get_by_role("status")).to_contain_text("is connected")
        _shot(page, "login-flow-granted")
        page.goto("/account/app-passwords")
        expect(page.get_by_text("Nextcloud desktop 3.7.3 (Linux)").first).to_be_visible()
        _shot(page, "app-passwords", full_page=True)
    finally:
        context.close()
