"""Highlights and snippets, made the same way for every engine, from the query's clauses.

Neither engine's own highlighter fits. PostgreSQL's ``ts_headline`` re-parses the text with its
own parser, which is not our tokeniser: it keeps ``report.pdf`` and ``a@b.com`` as one word and
reads ``FIR-123/2025`` as ``fir``, ``-123``, ``/2025``, so it would fail to mark ``report`` or
``123`` that matched; it also answers with markup. Tantivy's snippet generator marks no prefix
matches. Here a match is found with the tokeniser's own rule (a run of letters, marks and digits
bounded by anything else, in the NFC text with its ignorables removed) and reported as offsets
into the original NFC text, so both engines mark the same words and the page escapes plain text.

Query words are folded terms (:mod:`polaris.search.text`), the text is as written: a term's
letter matches itself with or without a nukta, and an ASCII digit matches its Devanagari digit.
A word found by a key (``thefts`` for ``theft``, ``चोरी`` for ``chori``) is marked when its own
keys share one with the clause's and the clause matched nowhere in the text as written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import regex

from polaris.search.interface import Highlight
from polaris.search.keys import word_keys
from polaris.search.query import Clause
from polaris.search.text import TOKEN_PATTERN, IgnorableMap, fold, fold_word, nfc

#: Characters of text around the matches in a snippet.
SNIPPET_CHARS = 240
#: How far the snippet starts before its first match.
LEAD_CHARS = 60
#: Matches looked at to place the snippet (the text may be a whole book).
MAX_MATCHES = 500
ELLIPSIS = "…"

_WORD = r"[\p{L}\p{M}\p{N}]"
_GAP = r"[^\p{L}\p{M}\p{N}]+"
_WHITESPACE = regex.compile(r"\s")
_TOKEN = regex.compile(TOKEN_PATTERN)
_DEVANAGARI_DIGITS = "०१२३४५६७८९"
#: Letters NFC composes with a nukta (the others stay decomposed).
_COMPOSED = {"र": "ऱ", "न": "ऩ", "ळ": "ऴ"}
_NUKTA = "\u093c"


def _letter(char: str) -> str:
    """A pattern for one character of a term, in text as written."""
    if char.isascii() and char.isdigit():
        return f"[{char}{_DEVANAGARI_DIGITS[int(char)]}]"
    if "\u0915" <= char <= "\u0939":  # a Devanagari consonant, perhaps with a nukta
        composed = _COMPOSED.get(char)
        if composed is not None:
            return f"(?:{char}{_NUKTA}?|{composed})"
        return f"{char}{_NUKTA}?"
    return regex.escape(char)


def _written(term: str) -> str:
    return "".join(_letter(char) for char in term)


@functools.lru_cache(maxsize=256)
def matcher(clauses: tuple[Clause, ...]) -> regex.Pattern[str] | None:
    """One pattern for all clauses; group ``i + 1`` is clause ``i``. Compiled once a query."""
    if not clauses:
        return None
    alternatives = []
    for clause in clauses:
        words = [_written(word) for word in clause.words]
        tail = f"{_WORD}*" if clause.prefix else f"(?!{_WORD})"
        written = _GAP.join(words)
        for key in clause.keys:
            if key.startswith("n:"):  # a case number as written: 0045/24, ४५-२०२४
                number, year = key[2:].split("/")
                written += (
                    f"|{_letter('0')}*{_written(number)}\\s*[/\\-]\\s*"
                    f"(?:{_written(year)}|{_written(year[2:])})"
                )
        alternatives.append(f"(?<!{_WORD})((?:{written}){tail})")
    return regex.compile("|".join(alternatives), regex.IGNORECASE | regex.V1)


def _matches(
    pattern: regex.Pattern[str], text: str, clauses: tuple[Clause, ...] = ()
) -> Iterator[tuple[int, int, int]]:
    """``(start, end, clause)`` of each match, in offsets of ``text``, in order."""
    mapping = IgnorableMap(text)
    found: dict[tuple[int, int], int] = {}
    for count, match in enumerate(pattern.finditer(mapping.stripped)):
        if count >= MAX_MATCHES:
            break
        found[(match.start(), match.end())] = (match.lastindex or 1) - 1
    # Keys only for clauses the pattern found nowhere here (a long text costs a scan; a clause
    # already marked as written is shown), and not case numbers (the pattern has them).
    marked = set(found.values())
    wanted = {
        key: index
        for index, clause in enumerate(clauses)
        if index not in marked
        for key in (*clause.keys, *clause.loose)
        if not key.startswith("n:")
    }
    if wanted:
        # Each distinct word once (a long text repeats its words), then one pattern of those
        # whose keys the clauses want.
        keyed = {}
        for word in set(_TOKEN.findall(mapping.stripped)):
            clause = _key_hit(word, wanted)
            if clause is not None:
                keyed[word] = clause
        if keyed:
            alternatives = "|".join(regex.escape(word) for word in sorted(keyed, key=len)[::-1])
            words = regex.compile(f"(?<!{_WORD})(?:{alternatives})(?!{_WORD})")
            for count, match in enumerate(words.finditer(mapping.stripped)):
                if count >= MAX_MATCHES:
                    break
                found.setdefault((match.start(), match.end()), keyed[match.group()])
    last_end = -1
    for (start, end), clause in sorted(found.items()):
        if start >= last_end:
            yield mapping.start(start), mapping.end(end), clause
            last_end = end


def _key_hit(word: str, wanted: dict[str, int]) -> int | None:
    """The clause whose keys one of ``word``'s keys is, if any."""
    lowered = fold(word)
    for term in fold_word(nfc(lowered)):
        for key in word_keys(lowered, term):
            if key in wanted:
                return wanted[key]
    return None


def highlight(text: str, clauses: tuple[Clause, ...]) -> Highlight:
    """All of ``text`` (a name), with its matches marked."""
    text = nfc(text)
    pattern = matcher(clauses)
    if pattern is None:
        return Highlight(text)
    return Highlight(
        text, tuple((start, end) for start, end, _ in _matches(pattern, text, clauses))
    )


def snippet(text: str, clauses: tuple[Clause, ...], size: int = SNIPPET_CHARS) -> Highlight:
    """A piece of ``text`` around the densest cluster of matches (the start if none matched).

    Whitespace becomes plain spaces (one for one, so offsets hold); an ellipsis marks a cut.
    """
    text = nfc(text)
    pattern = matcher(clauses)
    found = list(_matches(pattern, text, clauses)) if pattern is not None else []
    start = _best_window(found, size)
    begin = 0 if start is None else _word_start(text, max(0, start - LEAD_CHARS), start)
    end = _word_end(text, begin + size)
    piece = _WHITESPACE.sub(" ", text[begin:end])
    lead = ELLIPSIS if begin > 0 else ""
    trail = ELLIPSIS if end < len(text) else ""
    spans = tuple(
        (s - begin + len(lead), e - begin + len(lead))
        for s, e, _ in found
        if begin <= s and e <= end
    )
    return Highlight(lead + piece + trail, spans)


def _best_window(found: list[tuple[int, int, int]], size: int) -> int | None:
    """Start of the window of ``size`` holding the most distinct clauses, then most matches."""
    best: tuple[int, int] | None = None
    best_start = None
    last = 0
    for first, (start, _, _) in enumerate(found):
        last = max(last, first)
        while last + 1 < len(found) and found[last + 1][1] <= start + size:
            last += 1
        window = found[first : last + 1]
        score = (len({clause for _, _, clause in window}), len(window))
        if best is None or score > best:
            best, best_start = score, start
    return best_start


def _word_start(text: str, at: int, limit: int) -> int:
    """Move ``at`` forward to the start of a word (not past ``limit``), so no word is cut."""
    if at == 0:
        return 0
    space = _WHITESPACE.search(text, at, limit)
    return space.end() if space is not None else at


def _word_end(text: str, at: int) -> int:
    """Move ``at`` back to the end of a word, at most a few characters."""
    if at >= len(text):
        return len(text)
    for back in range(at, max(0, at - 20), -1):
        if text[back].isspace():
            return back
    return at
