"""Administration in a real browser, under the real CSP: an administrator enrols a second factor,
opens the unit tree, creates a user, imports a CSV with a bad row (and sees it), imports a good
one and watches the progress bar reach the end, checks the audit log, and runs a verify. Then
axe checks every administration page (in a second browser context that lets axe's script in)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from polaris.config import load_settings
from polaris.identity import mfa
from polaris.instance import open_instance
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_accessibility import violations
from tests.factories import PASSWORD, make_user
from tests.live_server import Server

ADMIN = "admin.e2e"
#: Enough rows that hashing their passwords (argon2id, 46 MiB) takes seconds: the bar is seen.
GOOD_ROWS = 60


@pytest.fixture(scope="module")
def admin(live_server: Server) -> Iterator[str]:
    instance = open_instance(load_settings(live_server.data_dir))
    session = instance.sessions()
    make_user(session, ADMIN, unit="PHQ", role="admin")
    session.commit()
    session.close()
    instance.close()
    yield ADMIN


def enrol_and_sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Show the code to scan").click()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("The code the app shows now").fill(mfa.current_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("link", name="Continue to Polaris").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("My files")


def fits_the_window(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.slow
def test_administrator_manages_units_users_imports_and_the_audit_log(
    browser: Browser, page: Page, live_server: Server, admin: str, tmp_path: Path
) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    enrol_and_sign_in(page, admin)

    # The frame links to administration; the unit tree opens and closes by keyboard.
    page.get_by_role("link", name="Administration").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Units").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Units")
    subdivision = page.locator("summary", has_text="SDV-A")
    expect(subdivision).to_be_hidden()  # below the districts, closed at first
    district = page.locator("summary", has_text="DST-A")
    district.focus()
    page.keyboard.press("Enter")
    expect(subdivision).to_be_visible()
    assert fits_the_window(page)
    page.screenshot(path=str(SCREENSHOTS / "admin-units.png"), full_page=True)

    # Create a user from the unit tree's link: the unit is filled in.
    subdivision.click()
    page.get_by_role("link", name=re.compile(r"^\d+ users? in PS-A2$")).click()
    page.get_by_role("link", name="New user").click()
    expect(page.get_by_label("Unit code")).to_have_value("PS-A2")
    page.get_by_label("Username").fill("kavita.e2e")
    page.get_by_label("Full name").fill("कविता सिंह")
    page.get_by_label("Role").select_option("sub_inspector")
    page.get_by_label("Rank (optional)").fill("SI")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("User kavita.e2e created")
    assert re.fullmatch(r"[A-Za-z2-9]{16}", page.locator("#once-password").inner_text())
    page.screenshot(path=str(SCREENSHOTS / "admin-user-created.png"), full_page=True)

    # A CSV with one bad row: the row is named, nothing imported.
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "username,full_name,unit_code,role\n"
        "meena.e2e,Meena,PS-A1,constable\n"
        "raju.e2e,Raju,PS-NOWHERE,constable\n",
        encoding="utf-8",
    )
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Import users"
    ).click()
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Check and import").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported.")
    row = page.get_by_role("row").filter(has_text="PS-NOWHERE")
    expect(row.get_by_role("cell").first).to_have_text("3")
    page.screenshot(path=str(SCREENSHOTS / "admin-import-rejected.png"), full_page=True)

    # A good CSV runs as a job: the bar moves and the page shows the outcome when it ends.
    good = tmp_path / "good.csv"
    good.write_text(
        "username,full_name,unit_code,role\n"
        + "".join(f"import.{n:03d},Officer {n},PS-B1,constable\n" for n in range(GOOD_ROWS)),
        encoding="utf-8",
    )
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Check and import").click()
    expect(page.locator(".job-progress progress")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "admin-import-progress.png"), full_page=True)
    expect(page.get_by_text(f"{GOOD_ROWS} users imported.")).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the first passwords (once)").click()
    job_page = urlsplit(page.url).path
    saved = download.value.path()
    assert saved is not None
    assert Path(saved).read_text(encoding="utf-8").count("import.") == GOOD_ROWS
    page.screenshot(path=str(SCREENSHOTS / "admin-import-done.png"), full_page=True)

    # The audit log, filtered to user creations, shows the one made above.
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Audit log"
    ).click()
    page.get_by_label("Action").fill("user.create")
    page.get_by_label("User (username)").fill(admin)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="user.create")).to_have_count(1)
    assert fits_the_window(page)
    page.screenshot(path=str(SCREENSHOTS / "admin-audit.png"), full_page=True)

    # A verify run from the status page.
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Status").click()
    page.get_by_role("button", name="Check now: Audit log").click()
    expect(page.locator("#audit").get_by_text("No problems found")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "admin-status.png"), full_page=True)
    assert refused == [], "the Content Security Policy refused something"

    # Accessibility: every administration page, signed in with the same session.
    checker = browser.new_context(
        base_url=f"http://127.0.0.1:{live_server.port}",
        viewport={"width": 1366, "height": 768},
        bypass_csp=True,
    )
    checker.add_cookies(page.context.cookies())
    other = checker.new_page()
    found: dict[str, list[object]] = {}
    for path in [
        "/admin/units",
        "/admin/users?unit=PS-B1",
        "/admin/users/new",
        "/admin/user/kavita.e2e",
        "/admin/users/import",
        job_page,
        "/admin/audit?action=user.*",
        "/admin/status",
    ]:
        other.goto(path)
        assert fits_the_window(other), f"{path} is wider than 1366 px"
        found[path] = list(violations(other))
        name = re.sub(r"[^a-z0-9]+", "-", path.split("?")[0]).strip("-")
        other.screenshot(path=str(SCREENSHOTS / f"axe-{name}.png"), full_page=True)
    other.goto("/admin/users/import")
    other.get_by_label("CSV file").set_input_files(str(bad))
    other.get_by_role("button", name="Check and import").click()
    found["import errors"] = list(violations(other))
    assert all(v == [] for v in found.values()), found
    checker.close()
