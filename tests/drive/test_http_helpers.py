"""Range parsing (RFC 9110 §14), Content-Disposition (RFC 6266/8187) and ETag matching."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import pytest

from polaris.drive._http import RangeNotSatisfiable, content_disposition, etag_matches, parse_range

# parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 100, (0, 1)),
        ("bytes=10-19", 100, (10, 20)),
        ("bytes=0-99", 100, (0, 100)),
        ("bytes=90-500", 100, (90, 100)),  # a last position past the end is clamped
        ("bytes=99-", 100, (99, 100)),
        ("bytes=100-", 101, (100, 101)),
        ("bytes=0-", 100, (0, 100)),
        ("bytes=-5", 100, (95, 100)),
        ("bytes=-100", 100, (0, 100)),
        ("bytes=-500", 100, (0, 100)),  # a suffix longer than the content is all of it
        ("bytes=-1", 1, (0, 1)),
    ],
)
def test_single_ranges(header: str, size: int, expected: tuple[int, int]) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=0-1,5-6",  # several ranges: the whole content
        "bytes=0-1, 5-6",
        "items=0-5",
        "bytes=abc",
        "bytes=a-b",
        "bytes=5",
        "bytes=20-10",  # last before first: invalid, so ignored (RFC 9110 §14.1.1)
    ],
)
def test_what_is_not_one_valid_range_sends_everything(header: str | None) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1_0-20",  # int() accepts underscores
        "bytes=+10-20",  # and signs
        "bytes=--5",
        "bytes=१०-२०",  # and Devanagari digits; RFC 9110 allows only ASCII DIGIT
    ],
)
def test_only_ascii_digits_make_a_range(header: str) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=500-600", 100)])
def test_a_range_past_the_end_is_not_satisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, size)
    assert raised.value.status == 416
    assert raised.value.code == "range_not_satisfiable"
    assert raised.value.headers == {"Content-Range": f"bytes */{size}"}


def test_an_empty_suffix_is_not_satisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 100)


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=0-0", "bytes=5-9"])
def test_empty_content_never_gets_a_partial_answer(header: str) -> None:
    """No byte of empty content can start a range: 416, or the whole (empty) content."""
    try:
        assert parse_range(header, 0) is None
    except RangeNotSatisfiable as exc:
        assert exc.headers == {"Content-Range": "bytes */0"}


def test_a_suffix_of_empty_content_is_the_whole_empty_content() -> None:
    """There is no ``[start, end)`` of 0 bytes that a 206 Content-Range can express
    (``bytes 0--1/0`` is not valid), so the answer is a 200 with the empty body."""
    assert parse_range("bytes=-5", 0) is None


@pytest.mark.parametrize("size", [1, 2, 17, 1000])
def test_every_satisfiable_range_lies_inside_the_content(size: int) -> None:
    for first in range(0, size + 2, max(1, size // 7)):
        for last in (first, first + 3, size - 1, size + 5):
            try:
                got = parse_range(f"bytes={first}-{last}", size)
            except RangeNotSatisfiable:
                assert first >= size
                continue
            if got is None:
                assert last < first
                continue
            start, end = got
            assert 0 <= start < end <= size
            assert start == first
            assert end == min(last + 1, size)


# content_disposition

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


# etag_matches


@pytest.mark.parametrize(
    "header",
    [
        '"abc123"',
        "abc123",
        'W/"abc123"',
        '"zzz", "abc123"',
        '"zzz",W/"abc123"',
        "*",
        ' "abc123" ',
    ],
)
def test_etag_matches(header: str) -> None:
    assert etag_matches(header, "abc123")


@pytest.mark.parametrize("header", [None, "", '"abc12"', '"abc1234"', '"ABC123"', '"zzz", "yyy"'])
def test_etag_does_not_match(header: str | None) -> None:
    assert not etag_matches(header, "abc123")
