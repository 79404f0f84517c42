"""The tokeniser: Hindi words stay whole, and Tantivy's analyzer cuts exactly the same words."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from polaris.search.keys import analyse
from polaris.search.tantivy_engine import analyzer
from polaris.search.text import IgnorableMap, fold, fold_word, search_form, tokens


def test_hindi_words_stay_whole() -> None:
    assert tokens("मोबाइल चोरी की प्रथम सूचना रिपोर्ट।") == [
        "मोबाइल",
        "चोरी",
        "की",
        "प्रथम",
        "सूचना",
        "रिपोर्ट",
    ]


def test_separators_and_case() -> None:
    assert tokens("FIR-123/2025, PS Kotwali॥ BNS 303(2)") == [
        "fir",
        "123",
        "2025",
        "ps",
        "kotwali",
        "bns",
        "303",
        "2",
    ]
    assert tokens("१२३ रुपये") == ["123", "रुपये"]  # Devanagari digits are ASCII digits


def test_nukta_forms_are_one_word() -> None:
    assert tokens("\u0958ानून") == tokens("\u0915\u093cानून") == tokens("कानून")
    assert unicodedata.is_normalized("NFC", tokens("\u0958ानून")[0])


def test_joiners_are_removed_and_never_split() -> None:
    assert tokens("क्\u200dष क्\u200cष \u00adक्ष") == ["क्ष", "क्ष", "क्ष"]
    # Removing a joiner can bring a letter and its nukta together: NFC runs after.
    assert search_form("\u0915\u200d\u093c") == unicodedata.normalize("NFC", "\u0915\u093c")


def test_fold_is_per_character_as_in_tantivy() -> None:
    assert fold("ΟΔΟΣ") == "οδοσ"  # str.lower() would give a final sigma
    assert fold("Kotwali") == "kotwali"


def test_very_long_words_are_dropped() -> None:
    # Under 256 UTF-8 bytes, as Tantivy's remove_long counts: 85 Devanagari letters, not 86.
    for text in ("अ" * 85, "a" * 255):
        assert tokens(text) == analyzer().analyze(text) == [text]
    for text in ("अ" * 86, "a" * 256):
        assert tokens(text) == analyzer().analyze(text) == []
    assert tokens("अ" * 86 + " छोटा") == ["छोटा"]
    assert tokens("अ" * 85) == ["अ" * 85]
    assert tokens("a" * 256) == []


def test_ignorable_map_points_back_into_the_original() -> None:
    original = "ab\u200dcd \u200cef"
    mapping = IgnorableMap(original)
    assert mapping.stripped == "abcd ef"
    start, end = mapping.start(0), mapping.end(4)
    assert original[start:end] == "ab\u200dcd"
    start, end = mapping.start(5), mapping.end(7)
    assert original[start:end] == "ef"  # the joiner before the word stays outside


ALPHABET = st.sampled_from(
    [chr(c) for c in range(0x0900, 0x0980)]
    + list("abcXYZ019 .,-/()'\"\n\t।॥")
    + ["\u200c", "\u200d", "\u00ad", "\u0958", "Σ", "İ", "ß", "١", "½", "\u2060", "é", "e\u0301"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_tantivy_keeps_the_terms_python_made(text: str) -> None:
    terms = tokens(text)
    assert analyzer().analyze(" ".join(terms)) == terms
    assert all(term == fold_word(term)[0] for term in terms)  # folding is idempotent
    assert [position.term for position in analyse(text)] == terms  # what both engines index
