"""Sign-in, the folder view and the language switch in a real browser; signing in with a second
factor, enrolling it when the role requires one, and changing the password."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from polaris.identity import mfa
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import PASSWORD
from tests.live_server import Server

NEW_PASSWORD = "monsoon ledger kotwali 2026"


def open_account_menu(page: Page) -> None:
    """Open the account menu of the bar (a <details>), unless it is open already."""
    menu = page.locator("details.account-menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
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
    open_account_menu(page)
    with page.expect_navigation():  # applied at once: no separate button
        page.get_by_label("Language").select_option("hi")
    expect(page.get_by_role("link", name="मेरी फ़ाइलें")).to_be_visible()
    open_account_menu(page)
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


def time_step() -> int:
    return int(time.time() // mfa.TOTP_PERIOD_SECONDS)


def totp(secret: str, step: int) -> str:
    """The code an authenticator app shows during ``step``: chosen by step, never by waiting."""
    return mfa.current_code(secret, at=step * mfa.TOTP_PERIOD_SECONDS)


def enrol(page: Page) -> tuple[str, int, list[str]]:
    """On the enrolment page: read the key shown as text, confirm with the code of the current
    time step. The key, that step (used now, so never again) and the recovery codes shown."""
    page.get_by_role("button", name="Show the code to scan").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    shown = page.locator("code.secret").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", shown), shown  # in groups of four
    secret = shown.replace(" ", "")
    step = time_step()  # the server accepts the step before and after its own too
    page.get_by_label("The code the app shows now").fill(totp(secret, step))
    with page.expect_response(re.compile(r"/enrol/confirm$")) as confirmed:
        page.get_by_role("button", name="Confirm").click()
    assert confirmed.value.headers["cache-control"] == "no-store"  # the codes stay off the disk
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    codes = page.locator("ol.codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", code) for code in codes), codes
    return secret, step, codes


def test_mfa_role_enrols_signs_in_with_totp_and_changes_password(page: Page) -> None:
    sign_in(page, "sho.e2e")
    expect(page).to_have_url(re.compile(r"/enrol$"))
    expect(
        page.get_by_text(
            "Your role requires a second factor. Set up an authenticator app to continue."
        )
    ).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    secret, enrolled_step, codes = enrol(page)
    page.get_by_role("link", name="Continue to Polaris").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("My files")
    open_account_menu(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    # Password, then a code: the next step's, as the enrolment used this one.
    sign_in(page, "sho.e2e")
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()
    page.get_by_label("Code").fill(totp(secret, enrolled_step + 1))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("My files")

    # The password, by keyboard alone: a mismatch first, then the change.
    open_account_menu(page)
    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    for repeat in (NEW_PASSWORD + "!", NEW_PASSWORD):
        expect(page.get_by_label("Current password")).to_be_focused()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Tab")
        expect(page.get_by_label("New password", exact=True)).to_be_focused()
        page.keyboard.type(NEW_PASSWORD)
        page.keyboard.press("Tab")
        expect(page.get_by_label("New password again")).to_be_focused()
        page.keyboard.type(repeat)
        page.keyboard.press("Enter")
        if repeat != NEW_PASSWORD:
            expect(page.get_by_role("alert")).to_have_text(
                "The two new passwords are not the same."
            )
    expect(page.get_by_role("status")).to_contain_text("Your password has been changed.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "account-password-changed.png"), full_page=True)
    open_account_menu(page)
    page.get_by_role("button", name="Sign out").click()

    # The new password, and a recovery code as the second factor (each works once).
    sign_in(page, "sho.e2e", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("My files")


@pytest.fixture
def axe_page(
    browser: Browser, live_server: Server, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A page whose context lets the injected axe script run (as in test_accessibility.py)."""
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}",
        viewport={"width": 1366, "height": 768},
        bypass_csp=True,
    )
    opened = context.new_page()
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_account_pages_have_no_serious_accessibility_violations(axe_page: Page) -> None:
    # Imported here: test_accessibility imports this module's sign_in.
    from tests.e2e.test_accessibility import violations

    page = axe_page

    def check(name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"account-{name}.png"), full_page=True)
        assert violations(page) == [], name

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, "sdop.e2e")
    expect(page).to_have_url(re.compile(r"/enrol$"))
    check("enrol")
    page.get_by_role("button", name="Show the code to scan").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    check("enrol-qr")
    page.goto("/enrol")  # start again: the key read below replaces the one just shown
    secret, step, _codes = enrol(page)
    check("recovery-codes")
    page.get_by_role("link", name="Continue to Polaris").click()
    open_account_menu(page)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "sdop.e2e")
    expect(page.get_by_role("heading", name="Second step")).to_be_visible()
    check("mfa")
    page.get_by_label("Code").fill(totp(secret, step + 1))
    page.get_by_role("button", name="Continue").click()
    page.goto("/account/password")
    check("password")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_have_text("Your current password is not right.")
    check("password-refused")
