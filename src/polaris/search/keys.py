"""The index terms of a text: each word's folded term and its keys, position by position.

A *key* is a second way to find a word, indexed at the word's position beside its term, with a
prefix saying what kind it is (terms are letters and digits only, so no key is ever a term):

- ``s:`` the English (Snowball) stem of a Roman-script word: ``theft`` and ``thefts`` are
  ``s:theft``. Stems are keys, not terms, so a word alone still means that word in phrases and
  prefixes, and ``invest`` does not find ``investigation`` (``s:investig``).
- ``r:`` / ``v:`` the Roman-script skeleton of a Devanagari word (:mod:`polaris.search.roman`):
  consonant key, and consonant and vowel key.
- ``e:`` the English word of a loanword, in either script (``पुलिस`` and ``police``;
  ``एफआईआर`` and ``fir``).
- ``n:`` a number with a year as officers write case numbers, in one shape: ``1191/2024``,
  ``1191 / 24``, ``FIR-1191-2024`` and ``१९९१/२०२४`` are all ``n:1191/2024`` (leading zeros
  dropped; a two-digit year is 20xx), at the number's position.

A query word asks for the same keys of the same word (:mod:`polaris.search.query`), so the two
sides cannot disagree.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from typing import NamedTuple

import regex
import snowballstemmer

from polaris.search import roman
from polaris.search.text import (
    TOKEN_BYTES_LIMIT,
    TOKEN_PATTERN,
    fold,
    fold_word,
    search_form,
)

#: Stems of shorter words are the words.
MIN_STEM_CHARS = 3
MAX_CASE_NUMBER_DIGITS = 7

_STEMMER = snowballstemmer.stemmer("english")
#: A number and a year as whole words, with a slash or a dash between (any script's digits).
_CASE_NUMBER = regex.compile(
    r"(?<![\p{L}\p{M}\p{N}])(\p{Nd}+)\s*[/\-]\s*(\p{Nd}+)(?![\p{L}\p{M}\p{N}])"
)
_LATIN = regex.compile(r"[a-z]+")
_TOKEN = regex.compile(TOKEN_PATTERN)


class Position(NamedTuple):
    """One word of a text: its folded term and its keys."""

    term: str
    keys: tuple[str, ...] = ()


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str | None:
    if len(word) < MIN_STEM_CHARS or not _LATIN.fullmatch(word):
        return None
    return str(_STEMMER.stemWord(word))


@functools.lru_cache(maxsize=65536)
def word_keys(word: str, term: str, *, phonetic: bool = True) -> tuple[str, ...]:
    """Keys of a document word (``word`` lower-cased NFC, ``term`` its folded form)."""
    keys: list[str] = []
    stemmed = stem(term)
    if stemmed is not None:
        keys.append("s:" + stemmed)
    english = roman.loanword(term)
    if english is not None:
        keys.append("e:" + english)
    if phonetic and not term.isascii():
        for consonants, vowels in roman.devanagari_keys(word):
            if len(consonants) >= roman.MIN_CONSONANTS:
                keys += ["r:" + consonants, f"v:{consonants}.{vowels}"]
    return tuple(dict.fromkeys(keys))


def query_keys(term: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Keys a query word asks for: ``(strict, phonetic)``. Strict keys find the same word
    (stem, loanword); phonetic ones find Devanagari words by a Roman spelling."""
    strict: list[str] = []
    stemmed = stem(term)
    if stemmed is not None:
        strict.append("s:" + stemmed)
    english = roman.loanword(term)
    if english is not None:
        strict.append("e:" + english)
    phonetic: tuple[str, ...] = ()
    key = roman.roman_key(term) if english is None else None  # fir is not फिर
    if key is not None and len(key[0]) >= roman.MIN_CONSONANTS:
        phonetic = ("r:" + key[0], f"v:{key[0]}.{key[1]}")
    return tuple(strict), phonetic


def case_number(number: str, year: str) -> str | None:
    """``n:<number>/<year>`` for ASCII digits, or ``None`` when it is not a case number."""
    if not (number.isdigit() and year.isdigit()) or len(number) > MAX_CASE_NUMBER_DIGITS:
        return None
    if len(year) == 2:
        year = "20" + year
    elif len(year) != 4:
        return None
    return f"n:{int(number)}/{year}"


@functools.lru_cache(maxsize=65536)
def _positions(word: str) -> tuple[Position, ...]:
    """The positions of one lower-cased word (usually one), kept for the next text."""
    if len(word) * 4 >= TOKEN_BYTES_LIMIT and len(word.encode()) >= TOKEN_BYTES_LIMIT:
        return ()
    return tuple(Position(term, word_keys(word, term)) for term in fold_word(word))


def analyse(text: str) -> list[Position]:
    """The positions of ``text`` as the index holds them (terms as :func:`text.tokens`).

    Each distinct word is worked out once (``_positions``, cached); case numbers are found by a
    pattern over the whole text and added to their number's position.
    """
    form = search_form(text)
    lowered = fold(form)
    if len(lowered) != len(form):  # a case mapping that changes lengths (rare: İ)
        lowered = "".join(fold(char) if len(fold(char)) == 1 else char for char in form)
    words = _TOKEN.findall(lowered)
    entries = list(map(_positions, words))
    positions = list(itertools.chain.from_iterable(entries))
    numbers = list(_CASE_NUMBER.finditer(lowered, overlapped=True))
    if not numbers:
        return positions
    starts = [match.start() for match in _TOKEN.finditer(lowered)]
    one_each = len(positions) == len(words)
    for match in numbers:
        number = case_number(_ascii(match.group(1)), _ascii(match.group(2)))
        if number is None:
            continue
        at = bisect.bisect_left(starts, match.start(1))
        if not one_each:  # a word folded to none or several terms before it
            at = sum(len(entry) for entry in entries[:at])
        positions[at] = Position(positions[at].term, (*positions[at].keys, number))
    return positions


def _ascii(digits: str) -> str:
    return "".join(str(int(digit)) for digit in digits) if not digits.isascii() else digits
