"""A page of results from an engine's matches: checked, counted, paged and highlighted in one place.

Why here and not in each engine: the index can lag the database by as long as its job queue is
(a classification raised or a node moved or trashed a moment ago). If an engine counted and paged
by itself, the total would count documents the caller may no longer see (``total: 1, hits: []``)
and a page would come up short, or shift the next page, when stale hits were dropped after it.
So the engine hands over the ids it matched (best first, at most :data:`MAX_CHECKED`), ``keep``
checks them against the database, and the total, the page window and the highlights are taken
from what passed, and from nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from polaris.search.highlight import highlight, snippet
from polaris.search.interface import (
    MAX_CHECKED,
    SearchEngine,
    SearchHit,
    SearchPage,
    SearchQuery,
    Visibility,
)
from polaris.search.query import parse

#: Decides which of the matched ids the caller may see now (in the database, not the index).
Keep = Callable[[Sequence[int]], Collection[int]]


def _trust_the_index(node_ids: Sequence[int]) -> Collection[int]:
    return frozenset(node_ids)


def search_page(
    engine: SearchEngine,
    query: SearchQuery,
    visibility: Visibility,
    *,
    keep: Keep = _trust_the_index,
    bound: int = MAX_CHECKED,
) -> SearchPage:
    """The page ``query.offset``, ``query.limit`` of the matches that ``keep`` lets through.

    ``total`` counts exactly those (a lower bound when the engine stopped at ``bound``), so every
    page is cut from the same list: page 2 neither repeats nor skips a hit of page 1. Only the
    documents of the page are read for highlights. Without ``keep`` the index is trusted (engine
    tests, operators' tools); a user's search always passes one (``search.querying``).
    """
    clauses = parse(query.text)
    found = engine.matches(query, visibility, bound)
    allowed = keep(found.node_ids)
    visible = [node_id for node_id in found.node_ids if node_id in allowed]
    window = visible[query.offset : query.offset + query.limit]
    texts = engine.stored(window)
    hits = tuple(
        SearchHit(
            node_id=node_id,
            name=highlight(texts[node_id].name, clauses),
            snippet=snippet(texts[node_id].text, clauses),
        )
        for node_id in window
        if node_id in texts  # removed from the index since it matched
    )
    return SearchPage(hits, len(visible), query.offset, query.limit, total_exact=found.complete)
