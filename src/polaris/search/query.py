"""The query language, and a search planned for the engines (clauses, filters, authorisation).

Syntax, the same on every engine:

- ``चोरी रिपोर्ट``: whole words, all of them (AND), in the name or the text.
- ``चोरी OR डकैती``: either (``OR`` in capitals, or ``|``); it binds the words beside it:
  ``मोबाइल चोरी OR गुम`` is ``मोबाइल`` and (``चोरी`` or ``गुम``).
- ``चोरी NOT मोबाइल``, ``चोरी -मोबाइल``: without that word (or phrase). A search needs at least
  one word that is not excluded.
- ``"प्रथम सूचना"``: a phrase, the words next to each other in this order (punctuation between
  them does not matter: the tokeniser drops it).
- ``चोर*``, ``invest*``: words beginning so (at least :data:`MIN_PREFIX_CHARS` characters);
  ``"प्रथम सूच*"`` is a phrase whose last word is a prefix.
- A chunk without spaces that holds several words, such as ``PS-Kotwali``, is a phrase: that is
  what its writer means, and the words alone would match far more. A number and a year in it
  (``1191/2024``, ``1191/24``, ``FIR-1191-2024``) are a case number, matched in one canonical
  shape (:mod:`polaris.search.keys`), so ``FIR-1191/2024`` finds "FIR No. 1191/2024".

A single word (not in a phrase, not a prefix) also matches its keys: its English stem (``theft``
finds ``thefts``), its loanword (``police`` finds ``पुलिस``) and, for a Roman-script word, the
Devanagari words with its phonetic skeleton (``chori`` finds ``चोरी``), which rank below exact
words. An excluded word matches its stem and loanword, never its skeleton (``NOT chori`` must
not drop every document with ``चार``).

A malformed query (``OR`` or ``NOT`` with nothing to bind, only excluded words) is refused with
``search_syntax``. Words are tokenised and folded by :mod:`polaris.search.text`, so a query's
words are exactly the index's terms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import regex

from polaris.errors import ValidationFailed
from polaris.search.interface import SearchQuery, Visibility
from polaris.search.keys import case_number, query_keys
from polaris.search.text import fold_word, search_form, word_spans

#: A shorter prefix would expand to a good part of the dictionary.
MIN_PREFIX_CHARS = 2
#: Words in one query, all clauses together.
MAX_QUERY_WORDS = 32
OR_WORDS = frozenset({"OR", "|"})
NOT_WORD = "NOT"

_CHUNK = regex.compile(r'(-?)"([^"]*)"?|(\S+)')
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
_CASE_GAP = regex.compile(r"\s*[/\-]\s*")


@dataclass(frozen=True)
class Clause:
    """Words that must occur in this order, next to each other; one word is a plain term.

    Or any of ``keys`` (a stem, a loanword, a case number: as good as the word) or ``loose``
    (a Roman word's phonetic keys: ranked below), which only a single word carries.
    """

    words: tuple[str, ...]
    #: The last word is a prefix.
    prefix: bool = False
    keys: tuple[str, ...] = ()
    loose: tuple[str, ...] = ()

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    def strict(self) -> Clause:
        """The clause without its phonetic keys (for an excluded word)."""
        return Clause(self.words, self.prefix, self.keys)


#: Clauses that must all match (one chunk of the query).
Item = tuple[Clause, ...]
#: Items of which one must match (``a OR b``).
Group = tuple[Item, ...]


@dataclass(frozen=True)
class Parsed:
    """A query: every group (any of its items), and none of the excluded items."""

    groups: tuple[Group, ...] = ()
    excluded: tuple[Item, ...] = ()

    @property
    def clauses(self) -> tuple[Clause, ...]:
        """The clauses that can match, for highlights (excluded ones never show)."""
        found: list[Clause] = []
        for group in self.groups:
            for item in group:
                found += [clause for clause in item if clause not in found]
        return tuple(found)

    def __bool__(self) -> bool:
        return bool(self.groups)


def _syntax(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="search_syntax")


def parse_query(text: str) -> Parsed:
    """The groups and exclusions of a query; empty for an empty query."""
    groups: list[list[Item]] = []
    excluded: list[Item] = []
    pending_or = False
    pending_not = False
    last_negated = False
    for match in _CHUNK.finditer(text.translate(_QUOTES)):
        negated_quote, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None and bare in OR_WORDS:
            if not groups or pending_or or pending_not or last_negated:
                raise _syntax("OR needs a word on each side")
            pending_or = True
            continue
        if bare == NOT_WORD:
            if pending_not or pending_or:
                raise _syntax("NOT needs a word after it")
            pending_not = True
            continue
        negated = pending_not or bool(negated_quote)
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = True, bare[1:]
        item = _quoted(quoted) if quoted is not None else _bare(bare or "")
        if not item:
            continue
        if negated:
            if pending_or:
                raise _syntax("OR cannot join an excluded word")
            excluded.append(tuple(clause.strict() for clause in item))
        elif pending_or:
            groups[-1].append(item)
        else:
            groups.append([item])
        pending_not = pending_or = False
        last_negated = negated
    if pending_or or pending_not:
        raise _syntax("OR and NOT need a word after them")
    if excluded and not groups:
        raise _syntax("a search needs a word that is not excluded")
    parsed_groups: list[Group] = []
    for group in groups:
        unique = tuple(dict.fromkeys(group))
        if unique not in parsed_groups:
            parsed_groups.append(unique)
    parsed = Parsed(tuple(parsed_groups), tuple(dict.fromkeys(excluded)))
    words = sum(len(clause.words) for item in _items(parsed) for clause in item)
    if words > MAX_QUERY_WORDS:
        raise ValidationFailed(
            f"a search takes at most {MAX_QUERY_WORDS} words", code="search_too_many_words"
        )
    return parsed


def parse(text: str) -> tuple[Clause, ...]:
    """The clauses a query can match with (all, for highlights)."""
    return parse_query(text).clauses


def _items(parsed: Parsed) -> list[Item]:
    return [item for group in parsed.groups for item in group] + list(parsed.excluded)


def _terms(chunk: str) -> list[tuple[int, int, str]]:
    """``(start, end, term)`` of the chunk's words, in ``search_form(chunk)``."""
    return [
        (start, end, term) for start, end, word in word_spans(chunk) for term in fold_word(word)
    ]


def _prefix_checked(words: tuple[str, ...], prefix: bool) -> None:
    if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
        raise ValidationFailed(
            f"a prefix needs at least {MIN_PREFIX_CHARS} letters", code="search_prefix_short"
        )


def _quoted(chunk: str) -> Item:
    """A phrase, as written."""
    prefix = chunk.rstrip().endswith("*")
    words = tuple(term for _, _, term in _terms(chunk))
    if not words:
        return ()
    _prefix_checked(words, prefix)
    return (_word(words[0], prefix) if len(words) == 1 else Clause(words, prefix),)


def _bare(chunk: str) -> Item:
    """A chunk without spaces: its case numbers, and the words between them as phrases."""
    prefix = chunk.rstrip().endswith("*")
    found = _terms(chunk)
    if not found:
        return ()
    form = search_form(chunk)
    clauses: list[Clause] = []
    run: list[str] = []
    index = 0
    while index < len(found):
        _start, end, term = found[index]
        if index + 1 < len(found):
            next_start, _, year = found[index + 1]
            number = case_number(term, year) if _CASE_GAP.fullmatch(form, end, next_start) else None
            if number is not None:
                clauses += _run(run, prefix=False)
                run = []
                clauses.append(Clause((term, year), keys=(number,)))
                index += 2
                continue
        run.append(term)
        index += 1
    last = _run(run, prefix=prefix)
    if last:
        _prefix_checked(last[0].words, prefix)
    return tuple(dict.fromkeys(clauses + last))


def _run(words: list[str], *, prefix: bool) -> list[Clause]:
    if not words:
        return []
    if len(words) == 1:
        return [_word(words[0], prefix)]
    return [Clause(tuple(words), prefix)]


def _word(term: str, prefix: bool) -> Clause:
    if prefix:
        return Clause((term,), prefix=True)
    strict, loose = query_keys(term)
    return Clause((term,), keys=strict, loose=loose)


@dataclass(frozen=True)
class Plan:
    """One search as the engines run it: what must match, and who may see it.

    A document passes when its space is in ``space_keys`` or an ancestor is in ``shared_roots``
    (authorisation), and it passes every filter. ``max_classification`` already folds in the
    user's clearance.
    """

    clauses: tuple[Clause, ...]
    query: Parsed
    space_keys: frozenset[int]
    shared_roots: frozenset[int]
    max_classification: int
    space_filter: frozenset[int] | None
    classification: int | None
    content_types: frozenset[str] | None
    owner_id: int | None
    unit_id: int | None
    modified_from: dt.datetime | None
    modified_to: dt.datetime | None


def plan(query: SearchQuery, visibility: Visibility) -> Plan | None:
    """The search to run, or ``None`` when nothing can match (nothing visible, say)."""
    parsed = parse_query(query.text)
    space_keys = visibility.space_ids
    if query.space_ids is not None:
        space_keys = space_keys & query.space_ids
    if not space_keys and not visibility.shared_roots:
        return None
    if visibility.max_classification < 0:
        return None
    if query.classification is not None and query.classification > visibility.max_classification:
        return None
    if query.content_types is not None and not query.content_types:
        return None
    modified_from = _second(query.modified_from)
    modified_to = _second(query.modified_to, up=True)
    if modified_from and modified_to and modified_from >= modified_to:
        return None
    return Plan(
        clauses=parsed.clauses,
        query=parsed,
        space_keys=space_keys,
        shared_roots=visibility.shared_roots,
        max_classification=visibility.max_classification,
        space_filter=query.space_ids,
        classification=query.classification,
        content_types=(
            None
            if query.content_types is None
            else frozenset(kind.lower() for kind in query.content_types)
        ),
        owner_id=query.owner_id,
        unit_id=query.unit_id,
        modified_from=modified_from,
        modified_to=modified_to,
    )


def _second(moment: dt.datetime | None, *, up: bool = False) -> dt.datetime | None:
    """To the second, in UTC, as the engines store it (an upper bound rounds up)."""
    if moment is None:
        return None
    moment = moment.astimezone(dt.UTC)
    if moment.microsecond and up:
        moment += dt.timedelta(seconds=1)
    return moment.replace(microsecond=0)


def stored_second(moment: dt.datetime) -> dt.datetime:
    """A document's ``modified_at`` as the engines store it: UTC, whole seconds."""
    return moment.astimezone(dt.UTC).replace(microsecond=0)
