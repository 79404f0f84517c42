"""What every search engine takes and gives: documents in, authorised pages of hits out.

The engines know nothing of users, roles or shares. The caller turns the access policy into a
:class:`Visibility` (the spaces the user reads wholly, the nodes shared with them, their clearance)
and every engine applies it *inside* its query, before ranking: hidden documents never crowd the
visible ones out of the :class:`Matches`.

The index can lag the database (a classification raised, a move or a trashing whose index job has
not run yet), so an engine answers with matching *ids* only, best first, up to a bound; the caller
checks them against the database and counts, pages and highlights only those that pass
(:func:`polaris.search.paging.search_page`). A count or a snippet is never made from a document
the index merely believes visible, and no engine score leaves the engine: relevance is only the
order of the ids (see ``docs/security.md``, "Search: counts and scores over what the caller may
see").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from polaris.errors import ValidationFailed

#: A page holds at most this many hits.
MAX_LIMIT = 100
#: Deeper pages are refused: nobody reads them, and they cost the engine the whole prefix.
MAX_OFFSET = 1000
#: Matches an engine hands over for checking, at most: enough for the deepest page. Past it the
#: total is a lower bound (``SearchPage.total_exact`` false).
MAX_CHECKED = MAX_OFFSET + MAX_LIMIT


#: Documents an engine would not take (:meth:`SearchEngine.write`): node id to the reason.
Rejected = dict[int, str]


@dataclass(frozen=True)
class SearchDocument:
    """One file or folder as the index holds it.

    ``ancestors`` are the node ids from the space's root down to the node itself, inclusive (the
    node's materialised ``path``); a share of any of them reaches the document. ``classification``
    is the effective one (the highest on the path). ``unit_id`` is the space's unit (``None`` for a
    personal space), ``owner_id`` the space's owner (``None`` for a unit's space).
    """

    node_id: int
    space_id: int
    ancestors: tuple[int, ...]
    name: str
    text: str
    content_type: str | None
    classification: int
    owner_id: int | None
    unit_id: int | None
    modified_at: dt.datetime

    def __post_init__(self) -> None:
        if not self.ancestors or self.ancestors[-1] != self.node_id:
            raise ValueError("ancestors must run from the space root to the node itself")
        if self.modified_at.tzinfo is None:
            raise ValueError("modified_at must be timezone-aware")


@dataclass(frozen=True)
class Visibility:
    """What the searching user may read, computed by the caller from the access policy.

    A document is visible when its space is in ``space_ids`` or one of its ancestors is in
    ``shared_roots``, and its classification is at most ``max_classification``.
    """

    space_ids: frozenset[int]
    shared_roots: frozenset[int]
    max_classification: int


@dataclass(frozen=True)
class SearchQuery:
    """A search, with optional filters; every filter narrows the result (AND).

    ``text`` follows the syntax of :mod:`polaris.search.query` (words AND-ed, ``"phrases"``,
    ``prefix*``); empty text lists the visible documents that pass the filters, newest first.
    ``classification`` keeps documents of exactly that level. The modified range is half-open,
    ``modified_from <= modified_at < modified_to``, to the second.
    """

    text: str = ""
    space_ids: frozenset[int] | None = None
    content_types: frozenset[str] | None = None
    classification: int | None = None
    owner_id: int | None = None
    unit_id: int | None = None
    modified_from: dt.datetime | None = None
    modified_to: dt.datetime | None = None
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be 1 to {MAX_LIMIT}", code="search_limit")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationFailed(f"offset must be 0 to {MAX_OFFSET}", code="search_offset")
        for moment in (self.modified_from, self.modified_to):
            if moment is not None and moment.tzinfo is None:
                raise ValidationFailed("dates must carry a timezone", code="search_date")


@dataclass(frozen=True)
class Highlight:
    """A piece of text and the matched words in it, as ``(start, end)`` character offsets.

    Spans are sorted and do not overlap. They are offsets into ``text`` (Python ``str`` indices),
    never markup: the page escapes ``text[a:b]`` pieces itself.
    """

    text: str
    spans: tuple[tuple[int, int], ...] = ()

    def pieces(self) -> list[tuple[str, bool]]:
        """``text`` cut into ``(piece, is_match)`` runs, for a template to escape and wrap."""
        pieces: list[tuple[str, bool]] = []
        at = 0
        for start, end in self.spans:
            if start > at:
                pieces.append((self.text[at:start], False))
            pieces.append((self.text[start:end], True))
            at = end
        if at < len(self.text):
            pieces.append((self.text[at:], False))
        return pieces


@dataclass(frozen=True)
class Matches:
    """What matched a search among the documents the *index* holds visible, best first.

    Relevance is the order alone: engines keep their scores (which depend on every document in
    the index, hidden ones too) to themselves.
    """

    node_ids: tuple[int, ...]
    #: False when more matched than ``node_ids`` holds (the engine stopped at its bound).
    complete: bool


@dataclass(frozen=True)
class StoredText:
    """A document's name and text as indexed (NFC), for highlights."""

    name: str
    text: str


@dataclass(frozen=True)
class SearchHit:
    """A hit as shown: no score (see :class:`Matches`)."""

    node_id: int
    name: Highlight
    snippet: Highlight


@dataclass(frozen=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    #: Matches that passed the check, all pages together (a lower bound if not ``total_exact``).
    total: int
    offset: int
    limit: int
    #: False when the engine stopped at its bound (``MAX_CHECKED``, or PostgreSQL's
    #: ``MAX_RANKED``): there are at least ``total``.
    total_exact: bool = True

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.hits) < self.total


class SearchEngine(Protocol):
    """The one interface of the full-text index; engines are picked by ``settings.search``.

    Writes are idempotent and visible to every later search, in this process or another, once the
    call returns.
    """

    def upsert(self, documents: Sequence[SearchDocument]) -> None:
        """Add the documents, replacing any indexed under the same node ids."""

    def delete(self, node_ids: Sequence[int]) -> None:
        """Remove the documents; ids not in the index are ignored."""

    def write(self, documents: Sequence[SearchDocument], removed: Sequence[int]) -> Rejected:
        """Upsert ``documents`` and delete ``removed`` in one commit (one transaction).

        A document the engine cannot take is left out, its old entry untouched, and named in the
        answer with the reason; the others commit. A node id in both is indexed (the caller
        passes the state it read, in which a node is either live or gone). Idempotent: the same
        call twice leaves the index as once.
        """

    def matches(self, query: SearchQuery, visibility: Visibility, bound: int) -> Matches:
        """The ids of the visible documents matching ``query``, best first, at most ``bound``.

        ``query.limit`` and ``query.offset`` are not the engine's business: the caller pages
        through what passes its check (:func:`polaris.search.paging.search_page`).
        """

    def stored(self, node_ids: Sequence[int]) -> dict[int, StoredText]:
        """Name and text of these documents, for highlights; ids not in the index are left out."""

    def clear(self) -> None:
        """Remove every document (before a full reindex)."""

    def count(self) -> int:
        """How many documents the index holds (all, visible or not: for operators)."""

    def terms_version(self) -> int:
        """The ``text.TERMS_VERSION`` the index was built with; 0 when unknown (rebuild it)."""

    def set_terms_version(self, version: int) -> None:
        """Record that the index now holds terms of ``version`` (after a full rebuild)."""
