"""Node names (DESIGN §6): NFC, at most 255 bytes, no '/', no control or bidi characters."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polaris.drive.names import MAX_NAME_BYTES, normalise_name, repair_name, sort_key
from polaris.errors import ValidationFailed

KA = "\u0915"  # क: three bytes of UTF-8, like every Devanagari letter
#: ZERO WIDTH NON-JOINER and ZERO WIDTH JOINER: format characters Indian scripts need.
JOINERS = "\u200c\u200d"
#: ऩ (U+0929) composes under NFC from न + nukta; क़ (U+0958) is a composition exclusion.
NNNA_NFC = "\u0929\u093e\u092e"
NNNA_NFD = "\u0928\u093c\u093e\u092e"
#: Every character with the Unicode Bidi_Control property (UAX #9, table 4).
BIDI_CONTROLS = [
    "\u061c",  # ARABIC LETTER MARK
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]


def refusal(name: str) -> str:
    with pytest.raises(ValidationFailed) as caught:
        normalise_name(name)
    return caught.value.code


def test_plain_names_are_kept_as_they_are() -> None:
    for name in ["report.pdf", "रिपोर्ट 2026.docx", ".hidden", "...", "a b", "FIR-12 (copy)"]:
        assert normalise_name(name) == name


def test_decomposed_hindi_is_stored_composed() -> None:
    assert NNNA_NFD != NNNA_NFC
    assert normalise_name(NNNA_NFD) == NNNA_NFC
    assert normalise_name(NNNA_NFC) == NNNA_NFC


def test_precomposed_and_decomposed_nukta_letters_are_one_name() -> None:
    # U+0958 is excluded from composition: NFC decomposes it, so both spellings meet there.
    assert normalise_name("\u0958") == normalise_name("\u0915\u093c") == "\u0915\u093c"


def test_zero_width_joiners_are_allowed() -> None:
    name = "\u0915\u094d\u200d\u0937 \u0915\u094d\u200c\u0937"
    assert normalise_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "\u0915\u094d\u200d\u0937\u0947\u0924\u094d\u0930.pdf",  # क्‍षेत्र: half form by ZWJ
        "\u0930\u094d\u200d\u092f\u093e.docx",  # र्‍या (eyelash ra), as Marathi writes it
        "\u0926\u094d\u200c\u0935\u093e\u0930.txt",  # द्‌वार: visible virama by ZWNJ
        "\U0001f468\u200d\U0001f469\u200d\U0001f467.png",  # an emoji family joined by ZWJ
    ],
)
def test_names_that_need_a_joiner_are_kept(name: str) -> None:
    assert normalise_name(name) == name


@pytest.mark.parametrize(
    "char",
    [
        "\ufeff",  # ZERO WIDTH NO-BREAK SPACE (byte order mark)
        "\u2028",  # LINE SEPARATOR (Zl)
        "\u2029",  # PARAGRAPH SEPARATOR (Zp)
        "\u200b",  # ZERO WIDTH SPACE
        "\u2060",  # WORD JOINER
        "\u00ad",  # SOFT HYPHEN
        "\u180e",  # MONGOLIAN VOWEL SEPARATOR
        "\ufff9",  # INTERLINEAR ANNOTATION ANCHOR
        "\U000e0001",  # LANGUAGE TAG
    ],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_invisible_format_and_separator_characters_are_refused(char: str) -> None:
    assert refusal(f"report{char}.pdf") == "name_invalid"
    assert refusal(f"{char}report.pdf") == "name_invalid"


@given(
    st.characters(categories=["Cc", "Cf", "Zl", "Zp"], exclude_characters=JOINERS),
    st.text(st.characters(categories=["L", "M", "N"]), min_size=1, max_size=10),
)
def test_every_control_format_and_separator_character_but_the_joiners_is_refused(
    char: str, word: str
) -> None:
    assert refusal(word + char) == "name_invalid"


@pytest.mark.parametrize("name", ["", " ", "\t ", "\u3000"])
def test_empty_or_blank_names_are_refused(name: str) -> None:
    assert refusal(name) in {"name_empty", "name_invalid"}


def test_empty_name_code() -> None:
    assert refusal("") == "name_empty"
    assert refusal("   ") == "name_empty"


@pytest.mark.parametrize("name", [".", "..", "a/b", "/", "a\\b", "../etc"])
def test_dots_and_separators_are_refused(name: str) -> None:
    assert refusal(name) == "name_invalid"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85"])
def test_control_characters_are_refused(char: str) -> None:
    assert refusal(f"a{char}b") == "name_invalid"


@pytest.mark.parametrize(
    "char", ["\ufffe", "\uffff", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]
)
def test_noncharacters_are_refused(char: str) -> None:
    """Unicode's noncharacters: XML cannot hold U+FFFE and U+FFFF, so WebDAV could not list them."""
    assert refusal(f"report{char}.pdf") == "name_invalid"
    assert repair_name(f"report{char}.pdf") == (
        "report_.pdf",
        f"a name cannot contain the invisible character U+{ord(char):04X}",
    )


def test_characters_beside_the_noncharacters_are_names() -> None:
    for char in ["\ufdcf", "\ufdf0", "\ufffd", "\U0001fffd", "\U00020000"]:
        assert normalise_name(f"a{char}") == f"a{char}"


def test_lone_surrogate_is_refused() -> None:
    assert refusal("a\ud800b") == "name_invalid"


@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_bidi_controls_are_refused(char: str) -> None:
    assert unicodedata.category(char) == "Cf"  # format characters, not "Cc" controls
    assert refusal(f"report{char}fdp.exe") == "name_invalid"


def test_length_limit_is_in_bytes_of_utf8() -> None:
    assert MAX_NAME_BYTES == 255
    assert normalise_name("a" * 255) == "a" * 255
    assert refusal("a" * 256) == "name_too_long"
    devanagari = KA * 85
    assert len(devanagari.encode()) == 255
    assert normalise_name(devanagari) == devanagari
    assert refusal(devanagari + "a") == "name_too_long"
    assert refusal(KA * 86) == "name_too_long"
    emoji = "\U0001f4c4" * 63 + "abc"  # 4 bytes each: 252 + 3
    assert normalise_name(emoji) == emoji


def test_length_is_measured_after_normalisation() -> None:
    # 64 x (न + nukta) is 384 bytes decomposed but 192 composed (ऩ is one 3-byte letter).
    decomposed = "\u0928\u093c" * 64
    assert len(decomposed.encode()) > MAX_NAME_BYTES
    assert normalise_name(decomposed) == "\u0929" * 64


def test_sort_key_ignores_case() -> None:
    assert sort_key("Report.PDF") == sort_key("report.pdf") == "report.pdf"
    assert sort_key("Straße") == sort_key("STRASSE")
    assert sort_key("रिपोर्ट") == "रिपोर्ट"
