"""Range parsing (RFC 9110 §14) and ETag matching (Content-Disposition: web/test_downloads.py)."""

from __future__ import annotations

import pytest

from polaris.drive._http import RangeNotSatisfiable, etag_matches, parse_range

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
