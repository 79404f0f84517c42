"""Highlights and snippets: whole words as the tokeniser sees them, offsets into the shown text."""

from __future__ import annotations

from polaris.search.highlight import SNIPPET_CHARS, highlight, snippet
from polaris.search.interface import Highlight
from polaris.search.query import parse


def marked(result: Highlight) -> list[str]:
    return [result.text[start:end] for start, end in result.spans]


def test_words_prefixes_and_phrases_are_marked_whole() -> None:
    result = highlight(
        "चोरी-चोरियां, चोरी। Invest investigation", parse('चोरी invest "चोरियां चोरी"')
    )
    assert marked(result) == ["चोरी", "चोरियां, चोरी", "Invest"]
    assert marked(highlight("Investigation invests", parse("invest*"))) == [
        "Investigation",
        "invests",
    ]


def test_a_name_without_a_match_is_whole_and_unmarked() -> None:
    assert highlight("रिपोर्ट.pdf", parse("चोरी")) == Highlight("रिपोर्ट.pdf")
    assert highlight("रिपोर्ट.pdf", ()) == Highlight("रिपोर्ट.pdf")


def test_text_is_nfc_and_spans_index_it() -> None:
    result = highlight("\u0915\u093cानून", parse("\u0958ानून"))
    assert result.text == "\u0915\u093cानून" and result.spans == ((0, 6),)


def test_the_snippet_goes_where_most_clauses_meet() -> None:
    text = (
        "गबन " + "भराव " * 100 + "केवल चोरी " + "भराव " * 100 + "चोरी और गबन साथ साथ " + "अंत " * 100
    )
    result = snippet(text, parse("चोरी गबन"))
    assert marked(result) == ["चोरी", "गबन"]
    assert "चोरी और गबन" in result.text
    assert result.text.startswith("…") and result.text.endswith("…")
    assert len(result.text) <= SNIPPET_CHARS + 2


def test_no_match_gives_the_start_and_whitespace_becomes_spaces() -> None:
    result = snippet("पहली पंक्ति\nदूसरी\tपंक्ति", parse("चोरी"))
    assert result == Highlight("पहली पंक्ति दूसरी पंक्ति")
    long = snippet("शब्द " * 200, ())
    assert long.text.endswith("…") and not long.text.startswith("…")
    assert snippet("", parse("चोरी")) == Highlight("")


def test_pieces_cut_the_text_for_a_template() -> None:
    result = Highlight("a <b> c", ((2, 5),))
    assert result.pieces() == [("a ", False), ("<b>", True), (" c", False)]
