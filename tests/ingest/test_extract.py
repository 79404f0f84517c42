"""Text extraction without OCR: every format's text comes out whole, in NFC; character sets are
recognised; corrupt, encrypted and oversized files give a clear reason."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile
from email.message import EmailMessage
from pathlib import Path

import docx
import odfdo
import openpyxl
import pikepdf
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF

from polaris.ingest.extract import (
    DOCX_TYPE,
    EMAIL_TYPE,
    ODT_TYPE,
    PDF_TYPE,
    XLSX_TYPE,
    CannotExtract,
    Extracted,
    Limits,
    extract_text,
    extractable,
    normalise,
)

NOTO = Path("/usr/share/fonts/truetype/noto")
HINDI = "शिकायतकर्ता ने बताया कि उसकी मोटरसाइकिल चोरी हो गई"
ENGLISH = "The complainant stated that his motorcycle was stolen"


def extract(data: bytes, content_type: str, tmp_path: Path, **kwargs: object) -> Extracted:
    return extract_text(
        data,
        content_type,
        str(kwargs.pop("name", "")),
        ocr_languages="eng+hin",
        workdir=tmp_path,
        **kwargs,  # type: ignore[arg-type]
    )


def text_pdf(*pages: str) -> bytes:
    """A born-digital PDF: each page's lines in Noto Sans (Devanagari for the Hindi letters)."""
    pdf = FPDF()
    pdf.add_font("deva", fname=str(NOTO / "NotoSansDevanagari-Regular.ttf"))
    pdf.add_font("latin", fname=str(NOTO / "NotoSans-Regular.ttf"))
    pdf.set_fallback_fonts(["deva"])
    for text in pages:
        pdf.add_page()
        for line in text.split("\n"):
            pdf.set_font("deva" if line[:1] > "\u0900" else "latin", size=12)
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_a_pdf_text_layer_is_read_page_by_page(tmp_path: Path) -> None:
    first_page = f"FIR संख्या 0123/2026 दिनांक 05/11/2026\n{HINDI}"
    second_page = f"धारा 379 भा.द.सं.\n{ENGLISH}"
    result = extract(text_pdf(first_page, second_page), PDF_TYPE, tmp_path)
    assert result.method == "text"
    assert result.pages == 2
    assert result.searchable_pdf is None  # nothing was OCRed
    assert result.text == f"{first_page}\f{second_page}"
    assert list(tmp_path.iterdir()) == []  # no OCR, no files


def test_a_password_protected_pdf_gives_the_reason(tmp_path: Path) -> None:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(text_pdf(ENGLISH))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    with pytest.raises(CannotExtract, match="protected by a password"):
        extract(out.getvalue(), PDF_TYPE, tmp_path)


def test_a_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(text_pdf(ENGLISH))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user="", owner="permissions-only"))
    assert extract(out.getvalue(), PDF_TYPE, tmp_path).text == ENGLISH


def test_the_content_decides_the_format_not_the_name(tmp_path: Path) -> None:
    result = extract(text_pdf(HINDI), "text/plain", tmp_path, name="notes.txt")
    assert (result.method, result.pages, result.text) == ("text", 1, HINDI)


def test_a_word_document_gives_headers_paragraphs_tables_and_footers_in_order(
    tmp_path: Path,
) -> None:
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "पुलिस अधीक्षक कार्यालय"
    document.sections[0].footer.paragraphs[0].text = "गोपनीय"
    document.add_heading("प्रथम सूचना रिपोर्ट", level=1)
    document.add_paragraph(HINDI)
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "FIR संख्या"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "0123/2026"
    table.rows[1].cells[0].text = "दिनांक"
    table.rows[1].cells[1].text = "05/11/2026"
    document.add_paragraph(ENGLISH)
    out = io.BytesIO()
    document.save(out)
    result = extract(out.getvalue(), DOCX_TYPE, tmp_path)
    assert result.method == "text" and result.pages is None
    assert result.text.split("\n") == [
        "पुलिस अधीक्षक कार्यालय",
        "प्रथम सूचना रिपोर्ट",
        HINDI,
        "FIR संख्या\t0123/2026",  # the merged cell once
        "दिनांक\t05/11/2026",
        ENGLISH,
        "गोपनीय",
    ]


def test_an_opendocument_text_gives_headings_paragraphs_tables_and_lists(tmp_path: Path) -> None:
    document = odfdo.Document("text")
    document.body.append(odfdo.Header(1, "प्रथम सूचना रिपोर्ट"))
    document.body.append(odfdo.Paragraph(f"{HINDI}  {ENGLISH}"))
    table = odfdo.Table("FIR", width=2, height=1)
    table.set_value((0, 0), "FIR संख्या")
    table.set_value((1, 0), "0123/2026")
    document.body.append(table)
    document.body.append(odfdo.List(["गवाह एक", "गवाह दो"]))
    out = io.BytesIO()
    document.save(out)
    result = extract(out.getvalue(), ODT_TYPE, tmp_path)
    lines = result.text.split("\n")
    assert lines[:2] == ["प्रथम सूचना रिपोर्ट", f"{HINDI}  {ENGLISH}"]
    assert "FIR संख्या" in lines and "0123/2026" in lines
    assert lines[-2:] == ["गवाह एक", "गवाह दो"]


def test_a_spreadsheet_gives_each_sheet_and_its_rows_with_dates_day_first(
    tmp_path: Path,
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "FIR रजिस्टर"
    sheet.append(["क्रमांक", "FIR संख्या", "दिनांक", "धारा"])
    sheet.append([1, "0123/2026", dt.datetime(2026, 11, 5), 379.0])
    sheet.append([2, "0124/2026", dt.datetime(2026, 11, 6, 14, 30), "303(2) BNS"])
    workbook.create_sheet("खाली")
    out = io.BytesIO()
    workbook.save(out)
    result = extract(out.getvalue(), XLSX_TYPE, tmp_path)
    assert result.text.split("\n") == [
        "FIR रजिस्टर",
        "क्रमांक\tFIR संख्या\tदिनांक\tधारा",
        "1\t0123/2026\t05/11/2026\t379",
        "2\t0124/2026\t06/11/2026 14:30\t303(2) BNS",
        "",
        "खाली",
    ]
    assert not result.truncated


def test_a_huge_spreadsheet_is_cut_at_the_cell_limit_and_says_so(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in range(100):
        sheet.append([f"r{row}c{column}" for column in range(5)])
    out = io.BytesIO()
    workbook.save(out)
    result = extract(out.getvalue(), XLSX_TYPE, tmp_path, limits=Limits(cells=20))
    assert result.truncated
    assert "r3c4" in result.text and "r5c0" not in result.text


def email_bytes(*, html_only: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "थाना प्रभारी <sho.kotwali@police.example>"
    message["To"] = "sp.office@police.example"
    message["Subject"] = "FIR संख्या 0123/2026 की प्रति"
    message["Date"] = "Thu, 05 Nov 2026 10:30:00 +0530"
    if html_only:
        message.set_content(
            f"<html><head><style>p {{color: red}}</style></head><body><p>{HINDI}</p>"
            f"<script>alert(1)</script><p>{ENGLISH}</p></body></html>",
            subtype="html",
        )
    else:
        message.set_content(f"{HINDI}\n{ENGLISH}\n")
        message.add_alternative(f"<p>{HINDI}</p>", subtype="html")
        message.add_attachment(
            b"%PDF-1.7", maintype="application", subtype="pdf", filename="जब्ती पत्रक.pdf"
        )
    return bytes(message)


def test_an_email_gives_headers_body_and_attachment_names(tmp_path: Path) -> None:
    result = extract(email_bytes(), EMAIL_TYPE, tmp_path, name="mail.eml")
    lines = result.text.split("\n")
    assert lines[:4] == [
        "From: थाना प्रभारी <sho.kotwali@police.example>",
        "To: sp.office@police.example",
        "Date: Thu, 05 Nov 2026 10:30:00 +0530",
        "Subject: FIR संख्या 0123/2026 की प्रति",
    ]
    assert HINDI in lines and ENGLISH in lines
    assert result.text.count(HINDI) == 1  # the HTML alternative is not read twice
    assert lines[-1] == "Attachments: जब्ती पत्रक.pdf"


def test_an_html_only_email_is_read_as_text_without_markup_or_scripts(tmp_path: Path) -> None:
    result = extract(
        email_bytes(html_only=True), "application/octet-stream", tmp_path, name="a.eml"
    )
    assert HINDI in result.text.split("\n") and ENGLISH in result.text.split("\n")
    assert "<p>" not in result.text and "alert" not in result.text and "color" not in result.text


PLAIN = f"{HINDI}\n{ENGLISH}: FIR 0123/2026"
WESTERN = "The officer’s report — “urgent”: café owner’s statement, naïve façade, 5½ hours.\n" * 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PLAIN.encode("utf-8"), PLAIN),
        (PLAIN.encode("utf-8-sig"), PLAIN),
        (PLAIN.encode("utf-16"), PLAIN),  # with its BOM
        (PLAIN.encode("utf-16-be"), PLAIN),  # no BOM: the NULs give it away
        (WESTERN.encode("cp1252"), WESTERN.strip()),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-16-be-no-bom", "windows-1252"],
)
def test_plain_text_in_its_character_set(data: bytes, expected: str, tmp_path: Path) -> None:
    result = extract(data, "text/plain", tmp_path)
    assert (result.method, result.text) == ("text", expected)


def test_text_comes_out_nfc_without_control_characters() -> None:
    decomposed = "cafe\u0301 \u0915\u093c\u093e\u0928\u0942\u0928\x00\x07\r\nline\x0cpage"
    assert normalise(decomposed) == unicodedata.normalize("NFC", "café क़ानून\nline\fpage")
    assert normalise("a  \n\n\n\n\nb\t \n") == "a\n\nb"


def test_text_is_cut_at_the_limit_and_says_so(tmp_path: Path) -> None:
    result = extract(("क" * 100).encode(), "text/plain", tmp_path, limits=Limits(text_chars=10))
    assert result.text == "क" * 10 and result.truncated


def test_a_file_of_another_kind_has_no_text_to_extract(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "not an office file")
    assert extract(out.getvalue(), "application/zip", tmp_path).method == "none"
    assert extract(b"\x00\x01binary", "application/octet-stream", tmp_path).method == "none"


def test_which_declared_types_get_a_text_job() -> None:
    assert extractable("application/pdf", 10) and extractable("image/tiff", 10)
    assert extractable(DOCX_TYPE, 10) and extractable("text/csv", 10)
    assert not extractable("application/zip", 10)
    assert not extractable("text/plain", 0)
    assert not extractable("application/pdf", 300 * 1024 * 1024)


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def encrypted_odt() -> bytes:
    """An ODT as LibreOffice saves it with a password: the manifest describes the encryption."""
    manifest = (
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        b'<manifest:encryption-data manifest:checksum-type="SHA1/1K"/></manifest:file-entry>'
        b"</manifest:manifest>"
    )
    return zip_bytes(
        {"mimetype": ODT_TYPE.encode(), "META-INF/manifest.xml": manifest, "content.xml": b"\x93"}
    )


def encrypted_ooxml() -> bytes:
    """What Word writes for a password-protected .docx: an OLE container whose directory names
    the streams EncryptionInfo and EncryptedPackage (the rest is ciphertext)."""
    directory = "EncryptionInfo".encode("utf-16-le") + "EncryptedPackage".encode("utf-16-le")
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + directory + bytes(1024)


@pytest.mark.parametrize(
    ("data", "content_type", "reason"),
    [
        (b"%PDF-1.7\nthis is not really a PDF", PDF_TYPE, "the PDF cannot be read"),
        (text_pdf(ENGLISH)[:400], PDF_TYPE, "the PDF cannot be read"),
        (b"just some words", PDF_TYPE, "not a readable PDF"),
        (b"PK\x03\x04 a broken zip", DOCX_TYPE, "damaged ZIP archive"),
        (zip_bytes({"word/document.xml": b"<not-xml"}), DOCX_TYPE, "Word document cannot be read"),
        (zip_bytes({"xl/workbook.xml": b"<nope/>"}), XLSX_TYPE, "spreadsheet cannot be read"),
        (zip_bytes({"mimetype": ODT_TYPE.encode()}), ODT_TYPE, "OpenDocument text cannot be read"),
        (encrypted_odt(), ODT_TYPE, "encrypted with a password"),
        (encrypted_ooxml(), DOCX_TYPE, "encrypted with a password"),
        (bytes(range(256)) * 40, "text/plain", "character set cannot be recognised"),
    ],
    ids=[
        "pdf-garbage",
        "pdf-truncated",
        "pdf-not-at-all",
        "docx-broken-zip",
        "docx-bad-xml",
        "xlsx-bad-workbook",
        "odt-no-content",
        "odt-encrypted",
        "docx-encrypted",
        "binary-as-text",
    ],
)
def test_corrupt_and_encrypted_files_give_a_clear_reason(
    data: bytes, content_type: str, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(CannotExtract, match=reason):
        extract(data, content_type, tmp_path)


def test_an_office_file_that_unpacks_beyond_the_limit_is_refused(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("x" * 2_000_000)  # compresses to a few kilobytes
    out = io.BytesIO()
    document.save(out)
    assert len(out.getvalue()) < 100_000
    with pytest.raises(CannotExtract, match="ZIP bomb"):
        extract(out.getvalue(), DOCX_TYPE, tmp_path, limits=Limits(zip_bytes=1024 * 1024))


def test_a_text_layer_too_long_for_the_page_limit_is_refused(tmp_path: Path) -> None:
    data = text_pdf("one", "two", "three")
    assert len(pdfium.PdfDocument(data)) == 3
    with pytest.raises(CannotExtract, match="3 pages, more than 2"):
        extract(data, PDF_TYPE, tmp_path, limits=Limits(text_pages=2))


def blank_package(kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "docx":
        docx.Document().save(out)
    elif kind == "xlsx":
        openpyxl.Workbook().save(out)
    else:
        odfdo.Document("text").save(out)
    return out.getvalue()


BOMB_PARTS = {
    "docx": ("word/document.xml", DOCX_TYPE, b"<w:p/>"),
    "xlsx": ("xl/worksheets/sheet1.xml", XLSX_TYPE, b"<row/>"),
    "odt": ("content.xml", ODT_TYPE, b"<text:p/>"),
}


def bomb(kind: str, unpacked_bytes: int, *, numbered: bool = False) -> bytes:
    """A real package of ``kind`` whose main part is inflated to about ``unpacked_bytes`` of
    valid, repetitive XML: small on disk, written in a stream (never whole in memory).
    ``numbered`` paragraphs pack about 10 to 1 instead of 1000 to 1."""
    part, _, filler = BOMB_PARTS[kind]
    with zipfile.ZipFile(io.BytesIO(blank_package(kind))) as source:
        original = source.read(part)
        others = [(info, source.read(info)) for info in source.infolist() if info.filename != part]
    # Keep the part's opening (namespaces, <w:body>, <sheetData>, <office:text>) and its end.
    marker = {"docx": b"<w:body>", "xlsx": b"<sheetData", "odt": b"<office:text"}[kind]
    cut = original.index(b">", original.index(marker)) + 1
    head, tail = original[:cut], original[cut:]
    if kind == "xlsx":
        head, tail = head.replace(b"<sheetData/>", b"<sheetData>"), b"</sheetData></worksheet>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in others:
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
        block = filler * (1024 * 1024 // len(filler))
        if numbered:
            paragraph = {
                "docx": "<w:p><w:r><w:t>{}</w:t></w:r></w:p>",
                "odt": "<text:p>{}</text:p>",
            }
            block = "".join(paragraph[kind].format(n) for n in range(60_000)).encode()
        with archive.open(part, "w", force_zip64=True) as stream:
            stream.write(head)
            for _ in range(unpacked_bytes // len(block)):
                stream.write(block)
            stream.write(tail)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["docx", "xlsx", "odt"])
def test_a_part_that_unpacks_beyond_its_limit_is_refused(kind: str, tmp_path: Path) -> None:
    data = bomb(kind, 300 * 1024 * 1024)  # 300 MB in one part, under the 512 MiB of all parts
    assert len(data) < 1024 * 1024
    with pytest.raises(CannotExtract, match=r"a part of the file unpacks .*ZIP bomb"):
        extract(data, BOMB_PARTS[kind][1], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["docx", "xlsx", "odt"])
def test_a_part_that_packs_like_a_bomb_is_refused(kind: str, tmp_path: Path) -> None:
    with pytest.raises(CannotExtract, match=r"unpacks \d+ times its size"):
        extract(bomb(kind, 40 * 1024 * 1024), BOMB_PARTS[kind][1], tmp_path)


@pytest.mark.parametrize("kind", ["docx", "odt"])
def test_a_bomb_within_the_zip_limits_stops_at_the_reader_memory_limit(
    kind: str, tmp_path: Path
) -> None:
    """Millions of empty paragraphs: a small XML, a tree many times its size in memory. The
    reader's process runs out of its memory; the caller (the server) gets the reason."""
    limits = Limits(extract_memory_bytes=384 * 1024 * 1024)
    data = bomb(kind, 96 * 1024 * 1024, numbered=True)
    with pytest.raises(CannotExtract, match="more than 384 MiB of memory"):
        extract(data, BOMB_PARTS[kind][1], tmp_path, limits=limits)
    assert list(tmp_path.iterdir()) == []


def test_entities_in_office_xml_are_not_expanded(tmp_path: Path) -> None:
    """A "billion laughs" in an ODT's content: the entities stay unexpanded or the file is
    refused; either way the reader never builds the expansion."""
    laughs = b'<!DOCTYPE d [<!ENTITY a "' + b"lol" * 10 + b'">'
    for n in range(1, 10):
        laughs += f'<!ENTITY {chr(97 + n)} "{("&" + chr(96 + n) + ";") * 10}">'.encode()
    laughs += b"]>"
    with zipfile.ZipFile(io.BytesIO(blank_package("odt"))) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    content = parts["content.xml"]
    body = content.index(b"<office:text")
    body = content.index(b">", body) + 1
    parts["content.xml"] = (
        laughs + content[content.index(b"<office:document-content") : body]
        + b"<text:p>&j;</text:p>" + content[body:]
    )  # fmt: skip
    try:
        result = extract(zip_bytes(parts), ODT_TYPE, tmp_path)
    except CannotExtract:
        return
    assert "lol" not in result.text


def test_a_reader_past_its_deadline_is_stopped(tmp_path: Path) -> None:
    """Reading millions of paragraphs takes seconds; a deadline of one second stops it."""
    data = bomb("docx", 96 * 1024 * 1024, numbered=True)
    limits = Limits(extract_timeout_seconds=1.0, extract_memory_bytes=8 * 1024**3)
    with pytest.raises(CannotExtract, match="took longer than 1 s and was stopped"):
        extract(data, DOCX_TYPE, tmp_path, limits=limits)
    assert list(tmp_path.iterdir()) == []
