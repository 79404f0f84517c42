"""The frame of signed-in pages: one account menu (a <details>, usable without scripts) and a
language switch that comes back to the same page with the same query string."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from polaris.instance import Instance
from tests.web.test_drive_pages import folder
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def test_the_account_menu_holds_the_account_links_and_sign_out(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    page = client.get("/search?q=x").text
    menu = re.search(r'<details class="menu account-menu">(.*?)</details>', page, re.S)
    assert menu, page
    inside = menu.group(1)
    assert "<summary>" in inside
    for href in ("/account/password", "/account/app-passwords", "/account/matrix"):
        assert f'href="{href}"' in inside
    assert 'action="/logout"' in inside and 'action="/language"' in inside
    # Outside the menu the bar keeps only search and chat (administration for administrators).
    bar = page.split("<header", 1)[1].split("</header>", 1)[0]
    assert bar.count('href="/account/') == 3 and 'href="/admin"' not in bar
    # Without scripts the language form still has a button to submit it.
    assert re.search(r"<noscript><button[^>]*>Change</button></noscript>", inside)


def test_the_language_switch_keeps_the_query_string(seeded: Instance, client: TestClient) -> None:
    folder_id = folder(seeded, "ct.one", "केस")
    sign_in(client, "ct.one")
    target = f"/drive/{folder_id}?sort=size&order=desc"
    page = client.get(target).text
    sent = re.search(r'name="next" value="([^"]+)"', page)
    assert sent and html.unescape(sent.group(1)) == target
    switched = client.post(
        "/language",
        data={"csrf": csrf_of(page), "lang": "hi", "next": target},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == target
    assert 'lang="hi"' in client.get(target).text
