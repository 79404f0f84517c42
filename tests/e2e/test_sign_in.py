"""Sign-in, the folder view and the language switch in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.live_server import Server


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_shows_my_files_and_nothing_comes_from_elsewhere(
    page: Page, live_server: Server
) -> None:
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    sign_in(page, "ct.e2e")
    expect(page.get_by_role("heading", level=1)).to_contain_text("My files")
    expect(page.get_by_role("link", name="My files")).to_have_attribute("aria-current", "page")
    assert hosts == {f"127.0.0.1:{live_server.port}"}


def test_wrong_password_shows_a_message(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("ct.e2e")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")


def test_switching_to_hindi_translates_the_page_and_is_remembered(page: Page) -> None:
    sign_in(page, "hc.e2e")
    page.get_by_label("Language").select_option("hi")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("link", name="मेरी फ़ाइलें")).to_be_visible()
    expect(page.get_by_role("button", name="साइन आउट करें")).to_be_visible()
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "hi")


def test_sign_in_by_keyboard_alone(page: Page) -> None:
    page.goto("/login")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("ct.e2e")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("My files")
