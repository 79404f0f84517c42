"""Files in a real browser: a folder uploaded whole, previews drawn in the background and shown
in the page, thumbnails in the list, and moving a selection into another folder."""

from __future__ import annotations

import io
import time
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.folder_page import upload
from tests.e2e.test_sign_in import sign_in


def scanned_page(path: Path, pages: int, text: str) -> None:
    frames = []
    for number in range(1, pages + 1):
        frame = Image.new("RGB", (595, 842), "white")
        draw = ImageDraw.Draw(frame)
        draw.rectangle((40, 40, 555, 120), outline="black", width=3)
        draw.text((60, 70), f"{text} - page {number}", fill="black")
        frames.append(frame)
    out = io.BytesIO()
    frames[0].save(out, format="PDF", save_all=True, append_images=frames[1:])
    path.write_bytes(out.getvalue())


def test_a_folder_uploads_whole_and_its_files_preview_in_the_page(
    page: Page, tmp_path: Path
) -> None:
    tree = tmp_path / "थाना अभिलेख"
    (tree / "2019").mkdir(parents=True)
    scanned_page(tree / "2019" / "FIR 7-2019.pdf", 2, "FIR 7/2019")
    photo = Image.new("RGB", (900, 600), "steelblue")
    ImageDraw.Draw(photo).ellipse((300, 150, 600, 450), fill="orange")
    photo.save(tree / "scene.png")

    sign_in(page, "hc.files")
    upload(page, str(tree), label="Upload folder")
    page.get_by_role("link", name="थाना अभिलेख", exact=True).click()
    expect(page.get_by_role("link", name="2019", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="scene.png", exact=True)).to_be_visible()

    page.get_by_role("link", name="2019", exact=True).click()
    page.get_by_role("link", name="FIR 7-2019.pdf", exact=True).click()
    # Drawn by the server's job worker; the page checks and reloads by itself.
    expect(page.get_by_role("img", name="Page 1 of FIR 7-2019.pdf")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("img", name="Page 2 of FIR 7-2019.pdf")).to_be_attached()
    # Visible is not yet loaded: wait for the image itself, then check what it is.
    first = page.get_by_role("img", name="Page 1 of FIR 7-2019.pdf").element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first)
    assert first.evaluate("img => img.naturalWidth") == 1200
    expect(page.get_by_role("link", name="Download")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "file-preview-pdf.png"))

    page.get_by_role("link", name="थाना अभिलेख", exact=True).click()
    page.get_by_role("link", name="scene.png", exact=True).click()
    expect(page.get_by_role("img", name="Page 1 of scene.png")).to_be_visible(timeout=60_000)
    page.go_back()
    page.reload()
    thumbnail = page.locator("img.thumb")
    expect(thumbnail).to_have_count(1)
    # ``decode()`` settles once the picture has loaded (it fails for a broken one): the reload
    # may still be fetching it when the element is counted.
    assert thumbnail.evaluate("img => img.decode().then(() => img.naturalWidth)") == 256


def test_a_selection_moves_into_a_folder_chosen_by_browsing(page: Page, tmp_path: Path) -> None:
    sign_in(page, "hc.files")
    page.get_by_text("New", exact=True).click()  # the New menu
    page.get_by_label("New folder").fill("केस 44")
    page.get_by_role("button", name="Create").click()
    files = []
    for name in ("statement-1.txt", "statement-2.txt"):
        (tmp_path / name).write_text(name, encoding="utf-8")
        files.append(str(tmp_path / name))
    upload(page, files)

    page.get_by_label("Select statement-1.txt").check()
    page.get_by_label("Select statement-2.txt").check()
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Move to…")
    page.get_by_role("link", name="केस 44", exact=True).click()
    page.get_by_role("button", name="Move here").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("केस 44")
    expect(page.get_by_role("link", name="statement-1.txt", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="statement-2.txt", exact=True)).to_be_visible()


def test_the_search_box_finds_a_file_by_a_hindi_word(page: Page, tmp_path: Path) -> None:
    sign_in(page, "hc.files")
    report = tmp_path / "चोरी की रिपोर्ट 2026.txt"
    report.write_text("report", encoding="utf-8")
    upload(page, str(report))
    # Indexing is a background job of the server: poll until the index has the file.
    # (``wait_for_function`` does not await an async predicate: its promise is truthy at once.)
    deadline = time.monotonic() + 60
    while not page.evaluate(
        """async word => {
            const response = await fetch("/api/v1/search?q=" + encodeURIComponent(word));
            return response.ok && (await response.json()).hits.length > 0;
        }""",
        "चोरी",
    ):
        assert time.monotonic() < deadline, "the file never reached the search index"
        page.wait_for_timeout(250)
    page.get_by_role("searchbox", name="Search").first.fill("चोरी")
    page.get_by_role("button", name="Search").first.click()
    result = page.locator("ol.results a.result-name")
    expect(result).to_have_text("चोरी की रिपोर्ट 2026.txt")
    expect(result.locator("mark")).to_have_text("चोरी")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search-results.png"))
