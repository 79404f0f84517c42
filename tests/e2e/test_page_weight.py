"""What a first visit costs and how it fits a common office screen (1366×768): the sign-in page,
a folder and the password page each weigh under 200 KB with everything they load, need no
horizontal scrolling, and every response carries the strict Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_sign_in import sign_in
from tests.live_server import Server

BUDGET = 200 * 1024
VIEWPORT = {"width": 1366, "height": 768}
TRANSFERRED = """() => {
    const [navigation] = performance.getEntriesByType("navigation");
    const resources = performance.getEntriesByType("resource");
    return {
        document: navigation.transferSize,
        resources: resources.map(r => [r.name, r.transferSize]),
    };
}"""


class Visit:
    """One page loaded in a browser context with an empty cache, and what crossed the wire."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.responses: list[Response] = []
        page.on("response", lambda response: self.responses.append(response))

    def load(self, path: str, shot: str) -> int:
        """Load ``path`` afresh; the bytes it transferred (document and everything it loaded)."""
        self.responses.clear()
        self.page.goto(path, wait_until="load")
        measured = self.page.evaluate(TRANSFERRED)
        assert measured["document"] > 0, "the document came from a cache: not a first load"
        names = [name for name, _ in measured["resources"]]
        assert any(re.search(r"/static/app\.[0-9a-f]{12}\.css$", name) for name in names), names
        by_browser = measured["document"] + sum(size for _, size in measured["resources"])
        # The same from Playwright's side: headers and bodies of every response, redirects too.
        by_playwright = sum(
            sizes["responseHeadersSize"] + sizes["responseBodySize"]
            for sizes in (r.request.sizes() for r in self.responses)
        )
        assert by_playwright >= measured["document"]
        width = self.page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert width[0] <= width[1], f"{path} scrolls sideways: {width}"
        self.check_headers()
        self.page.screenshot(path=str(SCREENSHOTS / f"page-weight-{shot}.png"), full_page=True)
        return max(by_browser, by_playwright)

    def check_headers(self) -> None:
        assert self.responses, "no responses seen"
        for response in self.responses:
            policy = response.all_headers().get("content-security-policy", "")
            assert "frame-ancestors 'none'" in policy, (response.url, policy)
            assert "script-src 'self'" in policy and "default-src 'self'" in policy, policy
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy


@pytest.fixture
def fresh_context(browser: Browser, live_server: Server) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport=VIEWPORT
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield context
    context.close()


def cold_load(
    browser: Browser, live_server: Server, signed_in: BrowserContext, path: str, shot: str
) -> tuple[int, Visit]:
    """Load ``path`` as the person signed in to ``signed_in``, in a context with nothing cached."""
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}",
        viewport=VIEWPORT,
        storage_state=signed_in.storage_state(),
    )
    visit = Visit(context.new_page())
    try:
        weight = visit.load(path, shot)
        # Still signed in (not sent to the sign-in page, which would weigh less).
        assert visit.page.url.endswith(path), visit.page.url
        expect(visit.page.locator("details.account-menu > summary")).to_be_visible()
        return weight, visit
    finally:
        context.close()


def test_first_loads_are_light_fit_the_screen_and_carry_the_strict_policy(
    browser: Browser, live_server: Server, fresh_context: BrowserContext
) -> None:
    visit = Visit(fresh_context.new_page())
    sign_in_bytes = visit.load("/login", "sign-in")
    assert 0 < sign_in_bytes < BUDGET, sign_in_bytes

    sign_in(visit.page, "ct.e2e")
    expect(visit.page.get_by_role("heading", level=1)).to_contain_text("My files")
    folder_path = visit.page.url.split(str(live_server.port), 1)[1]
    assert folder_path.startswith("/drive/"), folder_path
    visit.check_headers()  # the sign-in POST and its redirects

    folder_bytes, folder = cold_load(browser, live_server, fresh_context, folder_path, "folder")
    assert 0 < folder_bytes < BUDGET, folder_bytes
    assert any(re.search(r"/static/js/upload\.[0-9a-f]{12}\.js$", r.url) for r in folder.responses)
    password_bytes, _ = cold_load(
        browser, live_server, fresh_context, "/account/password", "password"
    )
    assert 0 < password_bytes < BUDGET, password_bytes
