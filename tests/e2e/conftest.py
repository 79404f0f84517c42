"""Browser tests: a real ``polaris serve`` and Debian's Chromium driven by Playwright.

Playwright's own browser download is never used (it needs the internet): Chromium comes from
Debian (``scripts/test.sh`` installs it) and is launched through ``executable_path``. Each test
saves screenshots under ``test-output/screenshots/`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from typer.testing import CliRunner

from polaris.cli.main import app as cli_app
from polaris.config import load_settings
from polaris.instance import open_instance
from tests.factories import build_tree, make_user
from tests.live_server import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the browser test files of this process (each file its own users)."""
    server = start_live_server(tmp_path_factory.mktemp("e2e") / "instance")
    yield server
    server.stop()


def start_live_server(data_dir: Path) -> Server:
    """A new instance with the base tree and users, served by ``polaris serve`` (started)."""
    result = CliRunner().invoke(cli_app, ["init", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # Plain http on 127.0.0.1 in tests: cookies must not require TLS here.
    config = data_dir / "polaris.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("cookie_secure = true", "cookie_secure = false"),
        encoding="utf-8",
    )
    instance = open_instance(load_settings(data_dir))
    session = instance.sessions()
    build_tree(session)
    make_user(session, "ct.e2e", unit="PS-A1", role="constable")
    make_user(session, "hc.e2e", unit="PS-B1", role="head_constable")
    make_user(session, "hc.drive", unit="PS-A2", role="head_constable")
    make_user(session, "hc.files", unit="PS-A2", role="head_constable")  # test_files.py
    # test_sharing.py: a sharer, and a recipient found by part of a Hindi name.
    make_user(session, "hc.share", unit="PS-A2", role="head_constable")
    recipient = make_user(session, "ry.share", unit="PS-B1", role="head_constable")
    recipient.full_name, recipient.rank = "रमेश यादव", "SI"
    # Account pages (test_sign_in.py): roles that require MFA, not enrolled yet; one user each
    # because the flows enrol them and change a password.
    make_user(session, "sho.e2e", unit="PS-A1", role="station_head")
    make_user(session, "sdop.e2e", unit="SDV-A", role="subdivision_head")
    session.commit()
    session.close()
    instance.close()
    # The server's own log beside the screenshots: a page that says "Something went wrong"
    # leaves its traceback there (one file per test process).
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    server = Server(data_dir, log=SCREENSHOTS.parent / f"e2e-server-{worker}.log")
    server.start()
    return server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run ./scripts/test.sh, which installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live_server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}", viewport={"width": 1366, "height": 768}
    )
    opened = context.new_page()
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
