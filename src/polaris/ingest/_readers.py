"""Readers of office files, e-mail and plain text for ``polaris.ingest.extract``, and the error
and limits they share with it. Each reader takes the bytes and the limits and gives
``(text, truncated)``, or raises :class:`CannotExtract` with the reason.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email
import email.policy
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any


class CannotExtract(Exception):
    """The file's text cannot be had (corrupt, encrypted, too big); the message says why."""


@dataclass(frozen=True)
class Limits:
    #: Scans with more pages are refused (OCR is about 3 s a page on one core).
    ocr_pages: int = 500
    ocr_timeout_seconds: float = 1800.0
    #: Pages of one document OCRed side by side.
    ocr_jobs: int = 1
    #: PDF pages read from the text layer (cheap, but not free).
    text_pages: int = 20_000
    #: Text beyond this is cut (and the result says so).
    text_chars: int = 5_000_000
    #: Uncompressed size of all the parts of an office file (a ZIP bomb stops here).
    zip_bytes: int = 512 * 1024 * 1024
    zip_entries: int = 20_000
    #: Uncompressed size of one part: python-docx and odfdo hold a part's XML tree in memory,
    #: several times the XML's size (what gets past this is stopped by ``extract_memory_bytes``).
    zip_part_bytes: int = 256 * 1024 * 1024
    #: Unpacked / packed size of one part bigger than ``zip_ratio_floor``. Measured: a sheet of
    #: 200,000 uniform rows packs 15 to 1, a Word file of 50,000 identical paragraphs 323 to 1; a
    #: part of one repeated byte, the cheapest bomb, about 1000 to 1.
    zip_ratio: float = 400.0
    zip_ratio_floor: int = 16 * 1024 * 1024
    #: Address space of the process that reads a file (``polaris.ingest.sandbox``).
    extract_memory_bytes: int = 1536 * 1024 * 1024
    #: A reader still busy after this long is stopped.
    extract_timeout_seconds: float = 300.0
    #: Spreadsheet cells read.
    cells: int = 2_000_000


# PDF -------------------------------------------------------------------------------------------


def read_pdf_pages(data: bytes, limits: Limits) -> list[str]:
    """The text layer of each page of a PDF (PDFium); an empty page is a scan, for OCR."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if getattr(error, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise CannotExtract("the PDF is protected by a password") from error
        raise CannotExtract(f"the PDF cannot be read ({error})") from error
    try:
        count = len(document)
        if count == 0:
            raise CannotExtract("the PDF has no pages")
        if count > limits.text_pages:
            raise CannotExtract(f"the PDF has {count} pages, more than {limits.text_pages}")
        texts: list[str] = []
        for index in range(count):
            page = document[index]
            try:
                textpage = page.get_textpage()
                try:
                    texts.append(str(textpage.get_text_range()))
                finally:
                    textpage.close()
            finally:
                page.close()
        return texts
    except pdfium.PdfiumError as error:
        raise CannotExtract(f"a page of the PDF cannot be read ({error})") from error
    finally:
        document.close()


# Office files -------------------------------------------------------------------------------


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse a ZIP whose parts unpack to more than the limits, in all or one by one, or pack
    suspiciously well. The sizes are those the archive declares; ``zipfile`` stops reading a
    part at its declared size and fails its CRC check, so a part cannot lie about its size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CannotExtract(f"the file is a damaged ZIP archive ({error})") from error
    if len(entries) > limits.zip_entries:
        raise CannotExtract(f"the file holds {len(entries)} parts, more than {limits.zip_entries}")
    if sum(entry.file_size for entry in entries) > limits.zip_bytes:
        raise CannotExtract("the file unpacks to more than the size read (a ZIP bomb?)")
    for entry in entries:
        if entry.file_size > limits.zip_part_bytes:
            raise CannotExtract(
                f"a part of the file unpacks to {entry.file_size // 2**20} MiB, more than"
                f" {limits.zip_part_bytes // 2**20} MiB (a ZIP bomb?)"
            )
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > limits.zip_ratio_floor and ratio > limits.zip_ratio:
            raise CannotExtract(
                f"a part of the file unpacks {ratio:.0f} times its size, more than"
                f" {limits.zip_ratio:.0f} (a ZIP bomb?)"
            )


def read_docx(data: bytes, limits: Limits) -> tuple[str, bool]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        headers = [s.header for s in document.sections if not s.header.is_linked_to_previous]
        footers = [s.footer for s in document.sections if not s.footer.is_linked_to_previous]
        for header in headers:
            lines.extend(paragraph.text for paragraph in header.paragraphs)
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(block.text)
            elif isinstance(block, Table):
                lines.extend(_docx_rows(block))
        for footer in footers:
            lines.extend(paragraph.text for paragraph in footer.paragraphs)
    except CannotExtract:
        raise
    except Exception as error:  # python-docx raises KeyError, ValueError, lxml errors…
        raise CannotExtract(f"the Word document cannot be read ({_why(error)})") from error
    return "\n".join(lines), False


def _docx_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:  # a merged cell comes once per grid column it spans
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(cell.text)
        yield "\t".join(cells)


def read_odt(data: bytes, limits: Limits) -> tuple[str, bool]:
    check_zip(data, limits)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = (
            archive.read("META-INF/manifest.xml") if _has(archive, "META-INF/manifest.xml") else b""
        )
    if b"encryption-data" in manifest:
        raise CannotExtract("the document is encrypted with a password")
    import odfdo

    try:
        body = odfdo.Document(io.BytesIO(data)).body
        blocks = body.xpath(
            "descendant::text:h[not(ancestor::text:p or ancestor::text:h)]"
            " | descendant::text:p[not(ancestor::text:p or ancestor::text:h)]"
        )
        lines = [block.text_recursive for block in blocks if isinstance(block, odfdo.Element)]
    except Exception as error:  # odfdo raises KeyError, ValueError, lxml errors…
        raise CannotExtract(f"the OpenDocument text cannot be read ({_why(error)})") from error
    return "\n".join(lines), False


def _has(archive: zipfile.ZipFile, name: str) -> bool:
    try:
        archive.getinfo(name)
    except KeyError:
        return False
    return True


def read_xlsx(data: bytes, limits: Limits) -> tuple[str, bool]:
    import openpyxl

    check_zip(data, limits)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises KeyError, InvalidFileException, XML errors…
        raise CannotExtract(f"the spreadsheet cannot be read ({_why(error)})") from error
    lines: list[str] = []
    cells = 0
    try:
        for sheet in workbook.worksheets:
            lines.append(sheet.title)
            for row in sheet.iter_rows(values_only=True):
                values = [_cell(value) for value in row if value is not None and value != ""]
                cells += len(values)
                if values:
                    lines.append("\t".join(values))
                if cells > limits.cells:
                    return "\n".join(lines), True
            lines.append("")
    except CannotExtract:
        raise
    except Exception as error:
        raise CannotExtract(f"the spreadsheet cannot be read ({_why(error)})") from error
    finally:
        workbook.close()
    return "\n".join(lines), False


def _cell(value: object) -> str:
    """A cell as a person would type it: dates day first (the Indian way), 12 not 12.0."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _why(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__


# E-mail and plain text ------------------------------------------------------------------------

_EMAIL_HEADERS = ("From", "To", "Cc", "Date", "Subject")


def read_email(data: bytes, limits: Limits) -> tuple[str, bool]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    lines = [f"{header}: {message[header]}" for header in _EMAIL_HEADERS if message[header]]
    plain: list[str] = []
    html: list[str] = []
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append(filename or "(unnamed)")
        elif part.get_content_type() == "text/plain":
            plain.append(_part_text(part))
        elif part.get_content_type() == "text/html":
            html.append(_html_text(_part_text(part)))
    lines.append("")
    lines.extend(plain or html)
    if attachments:
        lines.extend(["", "Attachments: " + ", ".join(attachments)])
    return "\n".join(lines), False


def _part_text(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or wrong charset
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title"})
    _BREAK = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_plain(data: bytes, limits: Limits) -> tuple[str, bool]:
    """UTF-8 (most text today, and all of Polaris's) first; a BOM's word next; then a guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), False
    if b"\x00" not in data[:4096]:  # NULs: UTF-16 or UTF-32 without a BOM, or not text
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise CannotExtract("the text's character set cannot be recognised (binary data?)")
    for match in matches:
        # A tie (cp1250 and cp1252 read most Western text alike) goes to Windows-1252, the 8-bit
        # encoding of English-language Windows: what old files in Indian offices were saved in.
        if match.encoding == "cp1252" and (match.chaos, -match.coherence) <= (
            best.chaos,
            -best.coherence,
        ):
            best = match
    return str(best), False
