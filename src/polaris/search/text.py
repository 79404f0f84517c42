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

Folding (:data:`TERMS_VERSION` 2). A word is then folded into the term the index holds, on index and
query alike; the stored text is never changed (highlights show it as written):

- NFKC: compatibility forms are their plain letters (``ﬁ`` is ``fi``, full-width ``Ａ`` is ``a``,
  ``①`` is ``1``);
- the nukta is dropped: ``फ़ोटो`` and ``फोटो``, ``बाज़ार`` and ``बाजार``, the precomposed
  U+0958–U+095F and ``ऱ``/``ऩ``/``ऴ`` are each one term (officers type with and without it);
- every decimal digit is its ASCII digit: ``७७`` is ``77`` (any script's ``Nd``).

Chandrabindu and anusvara are not folded into each other: ``हँस`` (laugh) and ``हंस`` (swan) are
different words; the Roman keys (:mod:`polaris.search.roman`) treat both as a nasal.

Besides its term, a word may carry *keys* (:mod:`polaris.search.keys`): its English stem, its
Roman-script skeleton, its loanword, a canonical FIR number. They are indexed at the word's
position and match only the same keys of a query word.
"""

from __future__ import annotations

import bisect
import functools
import unicodedata

import regex

#: The tokenizer pattern, for ``regex`` and for Tantivy's regex tokenizer alike.
TOKEN_PATTERN = r"[\p{L}\p{M}\p{N}]+"  # noqa: S105 (a word, not a secret)
#: Soft hyphen, ZWNJ, ZWJ, word joiner, zero-width no-break space (BOM).
IGNORABLES = "\u00ad\u200c\u200d\u2060\ufeff"
#: Raise when a term or key changes: indexes made with another version are rebuilt on upgrade
#: (``polaris.search.indexing.ensure_current``).
TERMS_VERSION = 2
#: Words of this many UTF-8 bytes or more (after lower-casing) are not indexed, as Tantivy's
#: ``remove_long`` filter counts them; a Devanagari letter takes 3 bytes. Nobody searches for them.
TOKEN_BYTES_LIMIT = 256

_TOKEN = regex.compile(TOKEN_PATTERN)
_IGNORABLE = regex.compile(f"[{IGNORABLES}]")
_CAPITAL_SIGMA = "\u03a3"
_NUKTA = "\u093c"
_FOREIGN_DIGIT = regex.compile(r"(?![0-9])\p{Nd}")


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


def words(text: str) -> list[str]:
    """The words of ``text`` as written (NFC, lower-cased, not folded), in order."""
    # Lower-casing the whole text first is the same as lower-casing each word (a case mapping
    # keeps letters letters and the rest the rest), except for the final sigma: fold() decides.
    found: list[str] = _TOKEN.findall(fold(search_form(text)))
    return _short(found)


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, word)`` of each word of ``search_form(text)``, lower-cased, not folded."""
    form = search_form(text)
    return [(m.start(), m.end(), fold(m.group())) for m in _TOKEN.finditer(form)]


def _short(found: list[str]) -> list[str]:
    # At most 4 bytes a character: only long words need encoding to be measured.
    if found and max(map(len, found)) * 4 >= TOKEN_BYTES_LIMIT:
        found = [word for word in found if len(word.encode()) < TOKEN_BYTES_LIMIT]
    return found


@functools.lru_cache(maxsize=65536)
def _fold_word(word: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", word)
    if _NUKTA in folded:
        folded = folded.replace(_NUKTA, "")
    folded = unicodedata.normalize("NFC", folded)
    if _FOREIGN_DIGIT.search(folded):
        folded = _FOREIGN_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), folded)
    # NFC again after lower-casing: ``İ`` lowers to ``i`` + U+0307, which must then go after a
    # following mark of a lower combining class (a virama), or two spellings of one word differ.
    return tuple(_short(_TOKEN.findall(unicodedata.normalize("NFC", fold(folded)))))


def fold_word(word: str) -> list[str]:
    """The index terms of one word: NFKC, no nukta, ASCII digits, lower-cased.

    Usually one term; NFKC can split a word (``½`` is ``1⁄2``) or empty it.
    """
    if word.isascii():
        return [word] if len(word) < TOKEN_BYTES_LIMIT else []
    return list(_fold_word(word))


def tokens(text: str) -> list[str]:
    """The terms of ``text`` as the index holds them, in order (folded words)."""
    return [term for word in words(text) for term in fold_word(word)]


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
