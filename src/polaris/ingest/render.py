"""Drawing page images of PDFs and pictures: the thumbnail of page 1 and in-page previews.

The browser is only ever sent images that Polaris drew itself (JPEG), never the user's PDF or
image, so nothing active in a file (PDF JavaScript, SVG scripts, a polyglot) reaches the page.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: What can be previewed. Everything else is downloaded.
IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp"}
)
PDF_TYPES = frozenset({"application/pdf"})
#: DOCX, ODT and XLSX: converted to PDF first (``ingest.office``), where LibreOffice is installed.
OFFICE_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)
PREVIEW_TYPES = IMAGE_TYPES | PDF_TYPES | OFFICE_TYPES

THUMBNAIL_BOX = 256
PAGE_WIDTH = 1200
#: Pages of a long document beyond this are not drawn; the download has them all.
MAX_PREVIEW_PAGES = 30
#: Pictures bigger than this many pixels are refused (a decompression bomb, or no photo at all).
MAX_PIXELS = 120_000_000
#: Files bigger than this are not previewed (they would be read into memory whole).
MAX_PREVIEW_BYTES = 256 * 1024 * 1024

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class CannotRender(Exception):
    """The file is not a readable picture or PDF (corrupt, encrypted, too big)."""


@dataclass(frozen=True)
class PageImage:
    page: int  # 1-based
    data: bytes
    width: int
    height: int
    media_type: str = "image/jpeg"


def previewable(content_type: str | None, size: int) -> bool:
    return content_type in PREVIEW_TYPES and 0 < size <= MAX_PREVIEW_BYTES


def draw_pages(data: bytes, content_type: str) -> tuple[list[PageImage], PageImage, int]:
    """(preview pages, thumbnail of page 1, total page count) of a picture or PDF."""
    pages_iter = _pdf_pages(data) if content_type in PDF_TYPES else _picture_pages(data)
    pages: list[PageImage] = []
    thumbnail: PageImage | None = None
    total = 0
    for number, picture in pages_iter:
        total = number
        if picture is None:  # beyond MAX_PREVIEW_PAGES: counted, not drawn
            continue
        if thumbnail is None:
            thumbnail = _encode(number, _fit(picture, THUMBNAIL_BOX, THUMBNAIL_BOX), quality=80)
        pages.append(_encode(number, _fit(picture, PAGE_WIDTH, PAGE_WIDTH * 2), quality=85))
    if thumbnail is None:
        raise CannotRender("the file has no pages")
    return pages, thumbnail, total


def _picture_pages(data: bytes) -> Iterator[tuple[int, Image.Image | None]]:
    """Every frame of a picture: a multi-page TIFF scan is a document of pages."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            frames = getattr(picture, "n_frames", 1)
            multi_page = picture.format == "TIFF"
            for index in range(frames if multi_page else 1):
                if index >= MAX_PREVIEW_PAGES:
                    yield index + 1, None
                    continue
                picture.seek(index)
                picture.load()
                yield index + 1, ImageOps.exif_transpose(picture).convert("RGB")
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise CannotRender(_reason(error)) from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise CannotRender(f"the picture cannot be read ({error})") from error


def _pdf_pages(data: bytes) -> Iterator[tuple[int, Image.Image | None]]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        raise CannotRender(f"the PDF cannot be read ({error})") from error
    try:
        for index in range(len(document)):
            if index >= MAX_PREVIEW_PAGES:
                yield index + 1, None
                continue
            page = document[index]
            try:
                width = page.get_width() or 1
                scale = min(PAGE_WIDTH / width, 4.0)
                yield index + 1, page.render(scale=scale).to_pil().convert("RGB")
            finally:
                page.close()
    except pdfium.PdfiumError as error:
        raise CannotRender(f"a page of the PDF cannot be drawn ({error})") from error
    finally:
        document.close()


def _fit(picture: Image.Image, width: int, height: int) -> Image.Image:
    copy = picture.copy()
    copy.thumbnail((width, height), Image.Resampling.LANCZOS)
    return copy


def _encode(page: int, picture: Image.Image, *, quality: int) -> PageImage:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality, optimize=True)
    return PageImage(page=page, data=out.getvalue(), width=picture.width, height=picture.height)


def _reason(error: Exception) -> str:
    if isinstance(error, UnidentifiedImageError):
        return "not a picture this server can read"
    return "the picture is too large to draw"
