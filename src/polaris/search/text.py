"""Text as both engines see it: NFC, invisible joiners removed, words of letters, marks, digits.

One tokeniser for Hindi, English and the scripts that come next. A word (token) is a maximal run
of ``[\\p{L}\\p{M}\\p{N}]`` (letters, combining marks, digits) in the ``regex`` module's Unicode
tables, lower-cased one character at a time. The marks matter: Devanagari vowel signs, the virama
and the nukta are marks, so ``चोरी`` stays one word (Python's ``re`` ``\\w`` and SQLite's default
FTS5 tokenizer cut it, and then it matches ``चार``).

Before tokenising, text is NFC-normalised (a precomposed ``क़`` U+0958 and ``क`` + nukta U+093C are
then the same letters; NFC keeps U+0958 decomposed, so both become ``क`` + ``़``) and the
*ignorables* below are removed: they steer rendering (ZWJ/ZWNJ choose a half-form or an explicit
virama) or hyphenation, never the word. Unicode's word-boundary rules (UAX #29, WB4) also treat them
as part of the word around them; left in, they would split a word in two, because they are format
characters (Cf), not letters or marks. Removed, ``क्‍ष`` with a ZWJ and ``क्ष`` without are one word.

Lower-casing is per character, exactly as Tantivy's ``LowerCaser`` does it (``char::to_lowercase``),
so a term the Python side makes is the term Tantivy indexed; ``str.lower()`` of a whole string
differs only for Greek capital sigma at the end of a word, which takes the per-character path.
"""

from __future__ import annotations

import bisect
import unicodedata

import regex

#: The tokenizer pattern, for ``regex`` and for Tantivy's regex tokenizer alike.
TOKEN_PATTERN = r"[\p{L}\p{M}\p{N}]+"  # noqa: S105 (a word, not a secret)
#: Soft hyphen, ZWNJ, ZWJ, word joiner, zero-width no-break space (BOM).
IGNORABLES = "\u00ad\u200c\u200d\u2060\ufeff"
#: Words of this many UTF-8 bytes or more (after lower-casing) are not indexed, as Tantivy's
#: ``remove_long`` filter counts them; a Devanagari letter takes 3 bytes. Nobody searches for them.
TOKEN_BYTES_LIMIT = 256

_TOKEN = regex.compile(TOKEN_PATTERN)
_IGNORABLE = regex.compile(f"[{IGNORABLES}]")
_CAPITAL_SIGMA = "\u03a3"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def search_form(text: str) -> str:
    """The text a tokenizer runs over: ignorables removed, then NFC (removing a joiner can bring a
    base letter and its mark together, which NFC then composes)."""
    if any(char in text for char in IGNORABLES):
        text = _IGNORABLE.sub("", text)
    return nfc(text)


def fold(token: str) -> str:
    """Lower-case character by character, as Tantivy does (``str.lower`` alone would write a
    final sigma at the end of a Greek word)."""
    if _CAPITAL_SIGMA in token:
        return "".join(char.lower() for char in token)
    return token.lower()


def tokens(text: str) -> list[str]:
    """The words of ``text`` as the index holds them, in order."""
    # Lower-casing the whole text first is the same as lower-casing each word (a case mapping
    # keeps letters letters and the rest the rest), except for the final sigma: fold() decides.
    words: list[str] = _TOKEN.findall(fold(search_form(text)))
    # At most 4 bytes a character: only long words need encoding to be measured.
    if words and max(map(len, words)) * 4 >= TOKEN_BYTES_LIMIT:
        words = [word for word in words if len(word.encode()) < TOKEN_BYTES_LIMIT]
    return words


class IgnorableMap:
    """``text`` without its ignorables, and the way back from offsets in it to offsets in ``text``.

    Highlights are found in the stripped text (as the engines saw it) and shown in the original,
    where the joiners still shape the letters.
    """

    def __init__(self, text: str) -> None:
        removed = [match.start() for match in _IGNORABLE.finditer(text)]
        self.stripped = _IGNORABLE.sub("", text) if removed else text
        # Where each removed character was, as an offset into the stripped text.
        self._at = [position - count for count, position in enumerate(removed)]

    def start(self, offset: int) -> int:
        """Original offset of a span starting at ``offset`` (after any joiner just before it)."""
        return offset + bisect.bisect_right(self._at, offset)

    def end(self, offset: int) -> int:
        """Original offset of a span ending at ``offset`` (a joiner just after it stays out)."""
        return offset + bisect.bisect_left(self._at, offset)
