"""axe-core in the browser: no serious or critical accessibility violation on the pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.folder_page import row_action, upload
from tests.e2e.test_sign_in import sign_in
from tests.live_server import Server

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def page(browser: Browser, live_server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    """Like the shared ``page``, but the strict CSP lets the injected axe script run (only here:
    every other browser test runs under the real policy)."""
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


def violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run ./scripts/test.sh, which installs it with npm")
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run()")
    assert result["passes"], "axe checked nothing"
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_sign_in_page(page: Page) -> None:
    page.goto("/login")
    assert violations(page) == []
    page.goto("/login", wait_until="load")
    page.context.add_cookies(
        [{"name": "polaris_lang", "value": "hi", "url": page.url.split("/login")[0]}]
    )
    page.reload()
    assert violations(page) == []


def test_folder_and_trash_pages(page: Page) -> None:
    sign_in(page, "ct.e2e")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("जाँच")
    page.get_by_role("button", name="Create").click()
    assert violations(page) == []
    page.get_by_role("link", name="Trash").click()
    assert violations(page) == []


def test_file_text_destination_share_and_search_pages(page: Page, tmp_path: Path) -> None:
    sign_in(page, "ct.e2e")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("अभिलेख")
    page.get_by_role("button", name="Create").click()
    note = tmp_path / "सूचना.txt"
    note.write_text("थाना कोतवाली में चोरी की सूचना", encoding="utf-8")
    upload(page, str(note))
    page.get_by_role("link", name="सूचना.txt", exact=True).click()
    assert violations(page) == []  # the file page, with its text shown
    page.get_by_role("link", name="Text and OCR").click()
    assert violations(page) == []
    page.go_back()
    page.get_by_role("link", name="Share", exact=True).click()
    page.get_by_label("Name, rank, unit or group").fill("nobody.here")
    page.get_by_role("button", name="Share", exact=True).click()
    assert page.get_by_role("alert").is_visible()
    assert violations(page) == []  # the share form with its error
    page.goto("/")
    page.get_by_label("Select सूचना.txt").check()
    page.get_by_role("button", name="Move", exact=True).click()
    assert violations(page) == []  # the destination picker
    page.goto("/search?q=चोरी")
    assert violations(page) == []


def test_matrix_app_page(page: Page) -> None:
    sign_in(page, "ct.e2e")
    page.goto("/account/matrix")
    assert violations(page) == []
    page.get_by_role("button", name="Make a login token").click()
    assert page.locator("#login-token").inner_text()
    assert violations(page) == []
    page.goto("/account/matrix?redirect_url=https%3A%2F%2Fapp.example%2Fdone")
    assert page.get_by_role("button", name="Allow the app to sign in").is_visible()
    assert violations(page) == []


def test_share_picker_notifications_and_shared_pages(page: Page) -> None:
    sign_in(page, "ct.e2e")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("picker a11y")
    page.get_by_role("button", name="Create").click()
    row_action(page, "picker a11y", "Share")
    page.get_by_role("combobox", name="Name, rank, unit or group").fill("e2e")
    page.get_by_role("listbox", name="Suggestions").get_by_role("option").first.wait_for()
    assert violations(page) == []  # the share form with the picker's list open
    page.get_by_label("A person").check()
    box = page.get_by_role("combobox", name="Name, rank, unit or group")
    box.fill("e2e")
    # The list opens over the form's button once its answer arrives; close it, as a person
    # would, to send the typed text itself (clicking while it opened hit an entry instead).
    page.get_by_role("listbox", name="Suggestions").get_by_role("option").first.wait_for()
    box.press("Escape")
    expect(page.get_by_role("listbox", name="Suggestions")).to_be_hidden()
    page.get_by_role("button", name="Share", exact=True).click()
    assert page.get_by_role("alert").is_visible()  # several match: a choice is offered
    assert violations(page) == []
    page.goto("/notifications")
    assert violations(page) == []
    page.goto("/shared")
    assert violations(page) == []
