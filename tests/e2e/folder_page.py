"""Helpers for browser tests of the folder page: the New menu, a row's menu, and a folder of
mixed files for its tests and docs screenshots.

``seed_mixed`` only uses what both the old and the new folder page have (the ``#files`` input and
the JSON API), so the same seed photographs the page before and after a change.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

FILES = {
    "FIR 12-2026.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    "बयान गवाह.docx": b"PK\x03\x04docx",
    "जब्ती सूची.xlsx": b"PK\x03\x04xlsx",
    "टिप्पणी.txt": "रात्रि गश्त की रिपोर्ट".encode(),
    "साक्ष्य.zip": b"PK\x05\x06" + bytes(18),
    "कॉल रिकॉर्डिंग.mp3": b"ID3",
    "CCTV 14-07.mp4": b"\x00\x00\x00\x18ftypmp42",
}


def new_folder(page: Page, name: str) -> None:
    """A folder made through the New menu, in the current folder."""
    page.get_by_text("New", exact=True).click()
    page.get_by_label("New folder").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()


def row_menu(page: Page, name: str) -> Locator:
    """The row menu of ``name``, opened by its "⋯" button."""
    page.get_by_label(f"Actions for {name}", exact=True).first.click()
    return page.get_by_role("menu", name=f"Actions for {name}", exact=True)


def row_action(page: Page, name: str, action: str) -> None:
    """Choose ``action`` (Open, Rename, Share, Versions, Delete...) in the row menu of ``name``."""
    row_menu(page, name).get_by_role("menuitem", name=action, exact=True).click()


def api_folder(page: Page, parent: int, name: str) -> int:
    """A folder made through the JSON API; returns its id."""
    made: int = page.evaluate(
        """async ([parent, name]) => {
            const csrf = document.cookie.split("; ").find(c => c.startsWith("polaris_csrf="))
              .slice("polaris_csrf=".length);
            const r = await fetch(`/api/v1/nodes/${parent}/folders`, {method: "POST",
              headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
              body: JSON.stringify({name})});
            return (await r.json()).id;
        }""",
        [parent, name],
    )
    return made


def current_folder(page: Page) -> int:
    return int(page.url.split("/drive/")[1].split("?")[0])


def seed_mixed(page: Page, tmp_path: Path, name: str) -> int:
    """In the signed-in person's current folder: ``name`` with two folders, a photo and a file
    of each kind. Returns the folder's id (the page is left on it)."""
    folder = api_folder(page, current_folder(page), name)
    for sub in ("फ़ोटो", "बयान"):
        api_folder(page, folder, sub)
    page.goto(f"/drive/{folder}")
    paths = []
    for file_name, body in FILES.items():
        path = tmp_path / file_name
        path.write_bytes(body)
        paths.append(str(path))
    photo = Image.new("RGB", (900, 600), "steelblue")
    ImageDraw.Draw(photo).ellipse((300, 150, 600, 450), fill="orange")
    out = io.BytesIO()
    photo.save(out, format="PNG")
    (tmp_path / "घटनास्थल.png").write_bytes(out.getvalue())
    paths.append(str(tmp_path / "घटनास्थल.png"))
    upload(page, paths)
    return folder


def upload(page: Page, files: str | list[str], label: str = "Upload files") -> None:
    """Pick ``files`` in the folder page's upload box and wait for the page to reload when every
    file is in. An upload the page gave up on fails with what the page says about it, not with a
    bare navigation timeout; the wait is long because the server's jobs (OCR, previews of earlier
    tests) share the machine's two cores with it."""
    box = page.get_by_label(label, exact=True)
    box.wait_for(state="attached")
    # The page's upload script (a module, run once the document is parsed) must be listening
    # before the files are picked, or the pick goes unnoticed and nothing is sent: after a
    # sign-in the folder page may still be loading when its upload box is already there.
    page.wait_for_load_state("load")
    try:
        with page.expect_navigation(timeout=90_000):
            box.set_input_files(files)
    except PlaywrightTimeoutError:
        progress = page.locator("#progress").inner_text(timeout=5_000)
        raise AssertionError(f"the upload did not finish; the page says: {progress!r}") from None
