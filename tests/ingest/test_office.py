"""Office documents (DOCX, ODT, XLSX) converted to PDF by LibreOffice in its sandbox, then drawn
as page images; a damaged document and an overrun fail with the reason. The file page with a
DOCX: tests/web/test_preview_pages.py."""

from __future__ import annotations

import io
import zipfile

import docx
import openpyxl
import pytest

from polaris.ingest import office, render
from tests.ingest.test_extract import bomb

pytestmark = [
    pytest.mark.slow,  # LibreOffice takes a few seconds to start
    pytest.mark.skipif(not office.available(), reason="LibreOffice is not installed"),
]


def a_docx() -> bytes:
    document = docx.Document()
    document.add_heading("प्रथम सूचना रिपोर्ट", level=1)
    document.add_paragraph("A report of a theft, written in the test.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def an_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["case", "date"])
    sheet.append(["45/2026", "05/12/2026"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def a_zip_that_is_no_document() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "not a Word document")
    return out.getvalue()


def test_a_docx_and_an_xlsx_become_pdfs_that_draw() -> None:
    for data, media in ((a_docx(), office.DOCX), (an_xlsx(), office.XLSX)):
        pdf = office.to_pdf(data, media)
        assert pdf.startswith(b"%PDF-")
        pages, thumbnail, total = render.draw_pages(pdf, "application/pdf")
        assert total >= 1 and pages and thumbnail.data[:3] == b"\xff\xd8\xff"


def test_a_damaged_document_fails_with_a_reason() -> None:
    with pytest.raises(render.CannotRender, match="damaged ZIP archive"):
        office.to_pdf(b"PK\x03\x04 not really a document", office.DOCX)
    with pytest.raises(render.CannotRender, match="could not read this document"):
        office.to_pdf(a_zip_that_is_no_document(), office.DOCX)


def test_a_zip_bomb_or_a_huge_part_is_refused_before_the_converter_starts() -> None:
    """A Word file of some forty kilobytes unpacking to 40 MB, and one of 40 MB of numbered
    paragraphs (no bomb, but thousands of pages): neither reaches LibreOffice."""
    with pytest.raises(render.CannotRender, match="ZIP bomb"):
        office.to_pdf(bomb("docx", 40 * 1024 * 1024), office.DOCX)
    with pytest.raises(render.CannotRender, match="more than 32 MiB"):
        office.to_pdf(bomb("docx", 40 * 1024 * 1024, numbered=True), office.DOCX)


def test_a_conversion_over_its_time_is_killed() -> None:
    with pytest.raises(render.CannotRender, match="took longer than 0 seconds"):
        office.to_pdf(a_docx(), office.DOCX, timeout=0.01)
