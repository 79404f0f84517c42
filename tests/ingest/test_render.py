"""Drawing previews: pictures, multi-page scans and PDFs become JPEG pages; bad files say why."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from polaris.ingest import render


def picture(fmt: str, size: tuple[int, int] = (800, 600), color: str = "navy") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def pdf(pages: int) -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (595, 842), "white") for _ in range(pages)]
    frames[0].save(out, format="PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_a_picture_is_one_page_and_a_thumbnail_within_256(fmt: str, media_type: str) -> None:
    pages, thumbnail, total = render.draw_pages(picture(fmt, (2000, 1000)), media_type)
    assert total == 1 and len(pages) == 1
    assert is_jpeg(pages[0].data) and is_jpeg(thumbnail.data)
    assert (thumbnail.width, thumbnail.height) == (256, 128)
    assert (pages[0].width, pages[0].height) == (1200, 600)


def test_every_page_of_a_multi_page_tiff_scan_is_drawn() -> None:
    out = io.BytesIO()
    frames = [Image.new("L", (400, 500), shade) for shade in (0, 128, 255)]
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    pages, _, total = render.draw_pages(out.getvalue(), "image/tiff")
    assert total == 3
    assert [page.page for page in pages] == [1, 2, 3]


def test_a_pdf_is_drawn_page_by_page_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "MAX_PREVIEW_PAGES", 2)
    pages, thumbnail, total = render.draw_pages(pdf(3), "application/pdf")
    assert total == 3
    assert [page.page for page in pages] == [1, 2]
    assert pages[0].width == render.PAGE_WIDTH
    assert thumbnail.height == 256 and thumbnail.width < 256  # portrait


@pytest.mark.parametrize(
    ("data", "media_type", "reason"),
    [
        (b"%PDF-1.7\nthis is not really a PDF", "application/pdf", "the PDF cannot be read"),
        (b"", "application/pdf", "the PDF cannot be read"),
        (b"<svg onload=alert(1)>", "image/png", "not a picture this server can read"),
        (picture("PNG")[:60], "image/png", "the picture cannot be read"),
    ],
)
def test_corrupt_files_cannot_be_drawn_with_a_reason(
    data: bytes, media_type: str, reason: str
) -> None:
    with pytest.raises(render.CannotRender, match=reason):
        render.draw_pages(data, media_type)


def test_a_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(render.CannotRender, match="too large"):
        render.draw_pages(picture("PNG", (100, 100)), "image/png")


def test_only_pictures_and_pdfs_of_sane_size_are_previewable() -> None:
    assert render.previewable("application/pdf", 10)
    assert render.previewable("image/jpeg", 10)
    assert not render.previewable("image/svg+xml", 10)  # scripts: never drawn, never inline
    assert not render.previewable("text/html", 10)
    assert not render.previewable("application/pdf", 0)
    assert not render.previewable("application/pdf", render.MAX_PREVIEW_BYTES + 1)
