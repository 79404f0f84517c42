"""Text of a file version: read from its text layer or markup, or by OCR from its page images.

Pure functions over bytes (no database, no blob store): the job in ``ingest.text_jobs`` feeds them
and stores what comes out. PDFs and pictures are read here (OCR in ``ingest.ocr``), office files,
e-mail and plain text in ``ingest._readers``. The format is told by the content (magic bytes, the
parts inside a ZIP) before the name or the declared type, so a PDF named ``.txt`` is still read as
a PDF.

| format | how |
| --- | --- |
| PDF | PDFium's text layer (pypdfium2), page by page; pages with almost no text are scans: OCR |
| PNG, JPEG, TIFF | OCR (OCRmyPDF + Tesseract, ``polaris.ingest.ocr``) |
| DOCX | python-docx: headers, paragraphs and tables in order, footers |
| ODT | odfdo: every paragraph and heading (tables and lists included) |
| XLSX | openpyxl in read-only mode: each sheet's name, then its rows (cells tab-separated) |
| e-mail (.eml) | the ``email`` package: headers, text parts (HTML as text), attachment names |
| plain text | UTF-8 (or a BOM's encoding) first, then charset-normalizer's best guess |

The text is NFC, with ``\\n`` line ends and pages separated by a form feed (U+000C).

Every reader runs in a child process with a memory limit and a deadline
(``polaris.ingest.sandbox``), after the size and packing checks of office files: a decompression
bomb fails its job with the reason and never takes the server's memory.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import regex

from polaris.ingest import ocr, sandbox
from polaris.ingest._readers import CannotExtract, Limits

__all__ = [
    "EXTRACTABLE_TYPES",
    "CannotExtract",
    "Extracted",
    "Limits",
    "extract_text",
    "extractable",
    "normalise",
    "signature",
]

Method = Literal["text", "ocr", "none"]

PDF_TYPE = "application/pdf"
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff"})
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT_TYPE = "application/vnd.oasis.opendocument.text"
EMAIL_TYPE = "message/rfc822"
TEXT_TYPES = frozenset(
    {"text/plain", "text/csv", "text/markdown", "text/tab-separated-values", "text/x-log"}
)
#: The declared types worth a text job (the type comes from the name; the job then sniffs).
EXTRACTABLE_TYPES = (
    frozenset({PDF_TYPE, DOCX_TYPE, XLSX_TYPE, ODT_TYPE, EMAIL_TYPE}) | IMAGE_TYPES | TEXT_TYPES
)
#: Files bigger than this are not read (they would be held in memory whole).
MAX_EXTRACT_BYTES = 256 * 1024 * 1024

#: A PDF page with fewer letters than this in its text layer is a scan (a stamp or a page number
#: on a scanned page is not its text).
MIN_PAGE_LETTERS = 16
_LETTER = regex.compile(r"\p{L}")
#: Control characters but tab, newline and form feed; lone surrogates; non-characters.
_CONTROL = regex.compile(r"[\x00-\x08\x0b\x0d-\x1f\x7f-\x9f\ufffe\uffff]|\p{Cs}")
_BLANK_LINES = regex.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


@dataclass(frozen=True)
class Extracted:
    text: str
    method: Method
    pages: int | None = None
    #: The searchable PDF made by OCR (a rendition beside the original, never replacing it).
    searchable_pdf: bytes | None = None
    #: The OCR languages, when OCR read the text.
    language: str | None = None
    #: The text was cut at ``Limits.text_chars`` (or a spreadsheet at ``Limits.cells``).
    truncated: bool = False


def extractable(content_type: str | None, size: int) -> bool:
    """Whether a version of this declared type and size is worth a text job."""
    return content_type in EXTRACTABLE_TYPES and 0 < size <= MAX_EXTRACT_BYTES


def extract_text(
    data: bytes,
    content_type: str,
    name: str,
    *,
    ocr_languages: str,
    workdir: Path,
    limits: Limits = Limits(),
    on_wait: Callable[[], None] | None = None,
) -> Extracted:
    """The text of one file. ``workdir`` is an empty private directory for OCR's files;
    ``on_wait`` is called every few seconds while OCR runs. Raises :class:`CannotExtract`, or
    :class:`polaris.ingest.ocr.OcrUnavailable` when OCR is not installed (worth retrying)."""
    kind = _kind(data, content_type, name)
    options = ocr.OcrOptions(
        languages=ocr_languages, jobs=limits.ocr_jobs, timeout_seconds=limits.ocr_timeout_seconds
    )
    if kind == "pdf":
        return _pdf(data, workdir, options, limits, on_wait)
    if kind == "image":
        return _image(data, workdir, options, limits, on_wait)
    if kind == "none":
        return Extracted(text="", method="none")
    reader = {
        "docx": "read_docx",
        "odt": "read_odt",
        "xlsx": "read_xlsx",
        "email": "read_email",
        "text": "read_plain",
    }[kind]
    text, truncated = sandbox.run_reader(
        reader, data, workdir=workdir, limits=limits, on_wait=on_wait
    )
    return _result(text, "text", None, limits, truncated=truncated)


def signature(head: bytes) -> str | None:
    """The family of format the first bytes of a file announce (``pdf``, ``image``, ``zip``,
    ``ole``), or None when they announce none of them (plain text, unknown, damaged).

    Also used by the ransomware guard (``polaris.resilience``): a new version that lost its old
    version's signature no longer is what it was.
    """
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(_IMAGE_MAGIC):
        return "image"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(_OLE_MAGIC):
        return "ole"
    return None


def _kind(data: bytes, content_type: str, name: str) -> str:
    """What the bytes are; the declared type or the name decide only when the bytes cannot."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    found = signature(data)
    if found == "pdf":
        return "pdf"
    if found == "image":
        return "image"
    if found == "zip":
        return _zip_kind(data)
    if data.startswith(_OLE_MAGIC) and (
        content_type in (DOCX_TYPE, XLSX_TYPE) or suffix in ("docx", "xlsx")
    ):
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise CannotExtract("the document is encrypted with a password")
        raise CannotExtract("an old binary Office file named as a new one; it is not read")
    if content_type in _FORMAT_NAMES:
        # Declared as a format whose signature is missing: the file is damaged.
        raise CannotExtract(f"the file is not a readable {_FORMAT_NAMES[content_type]}")
    if content_type == EMAIL_TYPE or suffix == "eml":
        return "email"
    if content_type in TEXT_TYPES or suffix in ("txt", "csv", "tsv", "log", "md"):
        return "text"
    return "none"


_FORMAT_NAMES = {
    PDF_TYPE: "PDF",
    DOCX_TYPE: "Word document",
    XLSX_TYPE: "spreadsheet",
    ODT_TYPE: "OpenDocument text",
    "image/png": "PNG picture",
    "image/jpeg": "JPEG picture",
    "image/tiff": "TIFF picture",
}


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
            if (
                "mimetype" in names
                and archive.getinfo("mimetype").file_size < 256  # not a bomb in the server
                and archive.read("mimetype").startswith(ODT_TYPE.encode())
            ):
                return "odt"
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CannotExtract(f"the file is a damaged ZIP archive ({error})") from error
    return "none"


def _result(
    text: str, method: Method, pages: int | None, limits: Limits, **extra: Any
) -> Extracted:
    cleaned = normalise(text)
    truncated = bool(extra.pop("truncated", False)) or len(cleaned) > limits.text_chars
    return Extracted(
        text=cleaned[: limits.text_chars],
        method=method,
        pages=pages,
        truncated=truncated,
        **extra,
    )


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters but tab, newline and form feed, no runs of
    blank lines, no trailing spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


# PDF and pictures ---------------------------------------------------------------------------


def _pdf(
    data: bytes,
    workdir: Path,
    options: ocr.OcrOptions,
    limits: Limits,
    on_wait: Callable[[], None] | None,
) -> Extracted:
    texts: list[str] = sandbox.run_reader(
        "read_pdf_pages", data, workdir=workdir, limits=limits, on_wait=on_wait
    )
    count = len(texts)
    scanned = [number for number, text in enumerate(texts, 1) if _letters(text) < MIN_PAGE_LETTERS]
    if not scanned:
        return _result("\f".join(texts), "text", len(texts), limits)
    if len(scanned) > limits.ocr_pages:
        raise CannotExtract(
            f"{len(scanned)} scanned pages are more than the {limits.ocr_pages} read by OCR"
        )
    source = workdir / "input.pdf"
    source.write_bytes(data)
    whole = len(scanned) == count
    output = _ocr(
        source, workdir, options, on_wait, pages=None if whole else scanned, image_dpi=None
    )
    if len(output.pages) == len(scanned):
        for number, page_text in zip(scanned, output.pages, strict=True):
            texts[number - 1] = page_text
    else:  # cannot say which text is which page: keep it all, in order
        texts = [text for text in texts if _letters(text) >= MIN_PAGE_LETTERS] + output.pages
    return _result(
        "\f".join(texts),
        "ocr",
        count,
        limits,
        searchable_pdf=output.pdf,
        language=options.languages,
    )


def _letters(text: str) -> int:
    return len(_LETTER.findall(text))


def _image(
    data: bytes,
    workdir: Path,
    options: ocr.OcrOptions,
    limits: Limits,
    on_wait: Callable[[], None] | None,
) -> Extracted:
    from PIL import Image, UnidentifiedImageError

    from polaris.ingest import render  # noqa: F401 (sets Pillow's pixel limit)

    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture_format = picture.format or ""
            frames = int(getattr(picture, "n_frames", 1)) if picture_format == "TIFF" else 1
            dpi = picture.info.get("dpi")
            picture.load()
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        reason = "too large" if isinstance(error, Image.DecompressionBombError) else "not readable"
        raise CannotExtract(f"the picture is {reason}") from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise CannotExtract(f"the picture cannot be read ({error})") from error
    if frames > limits.ocr_pages:
        raise CannotExtract(f"the scan has {frames} pages, more than the {limits.ocr_pages} read")
    suffix = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "TIFF": ".tif"}.get(picture_format)
    if suffix is None:
        raise CannotExtract(f"pictures in {picture_format or 'this'} format are not read by OCR")
    source = workdir / f"input{suffix}"
    source.write_bytes(data)
    stated = _stated_dpi(dpi)
    image_dpi = None if stated >= ocr.MIN_IMAGE_DPI else ocr.DEFAULT_IMAGE_DPI
    output = _ocr(source, workdir, options, on_wait, pages=None, image_dpi=image_dpi)
    return _result(
        "\f".join(output.pages),
        "ocr",
        frames,
        limits,
        searchable_pdf=output.pdf,
        language=options.languages,
    )


def _stated_dpi(dpi: object) -> float:
    if isinstance(dpi, tuple) and dpi and isinstance(dpi[0], int | float):
        return float(dpi[0])
    return 0.0


def _ocr(
    source: Path,
    workdir: Path,
    options: ocr.OcrOptions,
    on_wait: Callable[[], None] | None,
    *,
    pages: list[int] | None,
    image_dpi: int | None,
) -> ocr.OcrOutput:
    try:
        return ocr.run_ocr(
            source,
            workdir=workdir,
            options=options,
            pages=pages,
            image_dpi=image_dpi,
            on_wait=on_wait,
        )
    except ocr.OcrFailed as error:
        raise CannotExtract(str(error)) from error
