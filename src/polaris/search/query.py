"""The query language, and a search planned for the engines (clauses, filters, authorisation).

Syntax, the same on every engine:

- ``चोरी रिपोर्ट``: whole words, all of them (AND), in the name or the text.
- ``"प्रथम सूचना"``: a phrase, the words next to each other in this order (punctuation between
  them does not matter: the tokeniser drops it).
- ``चोर*``, ``invest*``: words beginning so (at least :data:`MIN_PREFIX_CHARS` characters);
  ``"प्रथम सूच*"`` is a phrase whose last word is a prefix.
- A chunk without spaces that holds several words, such as ``FIR-123/2025`` or ``123/2025``, is
  a phrase: that is what its writer means, and the words alone would match far more.

Anything else (operators, fields) is plain text. Words are tokenised by :mod:`polaris.search.text`,
so a query's words are exactly the index's words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import regex

from polaris.errors import ValidationFailed
from polaris.search.interface import SearchQuery, Visibility
from polaris.search.text import tokens

#: A shorter prefix would expand to a good part of the dictionary.
MIN_PREFIX_CHARS = 2
#: Words in one query, all clauses together.
MAX_QUERY_WORDS = 32

_CHUNK = regex.compile(r'"([^"]*)"?|(\S+)')
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


@dataclass(frozen=True)
class Clause:
    """Words that must occur in this order, next to each other; one word is a plain term."""

    words: tuple[str, ...]
    #: The last word is a prefix.
    prefix: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


def parse(text: str) -> tuple[Clause, ...]:
    """The clauses of a query, all of which must match; none for an empty query."""
    clauses: list[Clause] = []
    for match in _CHUNK.finditer(text.translate(_QUOTES)):
        quoted, bare = match.group(1), match.group(2)
        chunk = quoted if quoted is not None else bare
        prefix = chunk.rstrip().endswith("*")
        words = tuple(tokens(chunk))
        if not words:
            continue
        if prefix and len(words[-1]) < MIN_PREFIX_CHARS:
            raise ValidationFailed(
                f"a prefix needs at least {MIN_PREFIX_CHARS} letters", code="search_prefix_short"
            )
        clause = Clause(words, prefix)
        if clause not in clauses:
            clauses.append(clause)
    if sum(len(clause.words) for clause in clauses) > MAX_QUERY_WORDS:
        raise ValidationFailed(
            f"a search takes at most {MAX_QUERY_WORDS} words", code="search_too_many_words"
        )
    return tuple(clauses)


@dataclass(frozen=True)
class Plan:
    """One search as the engines run it: what must match, and who may see it.

    A document passes when its space is in ``space_keys`` or an ancestor is in ``shared_roots``
    (authorisation), and it passes every filter. ``max_classification`` already folds in the
    user's clearance.
    """

    clauses: tuple[Clause, ...]
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
    clauses = parse(query.text)
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
        clauses=clauses,
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
