"""Content-Disposition (RFC 6266/8187): the exact name survives, the header cannot be broken."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import pytest

from polaris.web.downloads import content_disposition

_DISPOSITION = re.compile(r"attachment; filename=\"([ -~]*)\"; filename\*=UTF-8''([!-~]*)")


def parts(header: str) -> tuple[str, str]:
    """(ASCII fallback, decoded filename*) of a header, which must have exactly our shape."""
    match = _DISPOSITION.fullmatch(header)
    assert match is not None, header
    return match.group(1), unquote(match.group(2), encoding="utf-8", errors="strict")


def test_ascii_name() -> None:
    header = content_disposition("report 2026.pdf")
    assert header == "attachment; filename=\"report 2026.pdf\"; filename*=UTF-8''report%202026.pdf"


@pytest.mark.parametrize(
    "name",
    [
        "रिपोर्ट.pdf",
        "प्राथमिकी संख्या 12-2026 (अंतिम).docx",
        "கோப்பு.txt",
        "ক্ষতি.xlsx",
        "क़ानून.pdf",
        "a\u200db.txt",  # a zero-width joiner, which Indian scripts need
        "emoji 📄.pdf",
    ],
)
def test_unicode_name_survives_exactly(name: str) -> None:
    name = unicodedata.normalize("NFC", name)
    fallback, exact = parts(content_disposition(name))
    assert exact == name
    assert fallback.isascii()
    assert fallback.endswith("." + name.rsplit(".", 1)[-1])


def test_fallback_drops_accents() -> None:
    fallback, exact = parts(content_disposition("café résumé.pdf"))
    assert fallback == "cafe resume.pdf"
    assert exact == "café résumé.pdf"


@pytest.mark.parametrize("name", ['say "hi".txt', "100%.txt", "semi;colon,comma.txt", "a\\b"])
def test_characters_that_could_break_the_header_are_quoted(name: str) -> None:
    header = content_disposition(name)
    fallback, exact = parts(header)
    assert exact == name
    assert '"' not in fallback and "\\" not in fallback and "%" not in fallback


def test_no_header_injection() -> None:
    header = content_disposition("a\r\nSet-Cookie: x=1.txt")
    assert "\r" not in header and "\n" not in header
    assert parts(header)[1] == "a\r\nSet-Cookie: x=1.txt"


def test_a_name_with_nothing_ascii_left_falls_back_to_download() -> None:
    fallback, _ = parts(content_disposition("\u0301\u0301"))
    assert fallback == "download"
