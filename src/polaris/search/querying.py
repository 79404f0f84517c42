"""Searching as a user: the access policy turned into a :class:`Visibility`, the engine asked, every
match checked once more against the database, and the search audited.

The engine applies the visibility inside its query (see ``search.interface``), so hidden documents
do not crowd a user's own out of the matches. The index can lag the database by its job queue
(a classification raised, a node moved or trashed a moment ago), so the matches are checked
against the database *before* they are counted, paged or highlighted
(:func:`polaris.search.paging.search_page`): the total, the pages and the snippets are made only
of what the user may read now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.drive import indexing as drive_index
from polaris.drive import spaces
from polaris.drive.indexing import Located
from polaris.search.interface import SearchEngine, SearchHit, SearchPage, SearchQuery, Visibility
from polaris.search.paging import search_page


@dataclass(frozen=True)
class Found:
    located: Located
    hit: SearchHit


def visibility_for(
    session: Session,
    actor: Actor,
    defaults: spaces.SpaceDefaults,
    space_ids: frozenset[int] | None = None,
) -> Visibility:
    """What ``actor`` may read: spaces wholly, nodes shared with them, up to their clearance.

    ``space_ids``: the spaces of ``spaces.visible_spaces``, when the caller has them already
    (a page has, for its sidebar). A few statements however many spaces and shares.
    """
    if space_ids is None:
        space_ids = drive_index.visible_space_ids(session, actor, defaults)
    return Visibility(
        space_ids=space_ids,
        shared_roots=drive_index.shared_roots(session, actor),
        max_classification=int(actor.clearance),
    )


def search(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    engine: SearchEngine,
    query: SearchQuery,
    defaults: spaces.SpaceDefaults,
    space_ids: frozenset[int] | None = None,
) -> tuple[list[Found], SearchPage]:
    root_levels: Mapping[int, int] = {}
    if space_ids is None:
        # The roots' levels read to decide the spaces spare the check reading them again.
        reached = drive_index.reached_spaces(session, actor, defaults)
        space_ids, root_levels = reached.space_ids, reached.root_levels
    visibility = visibility_for(session, actor, defaults, space_ids)
    check = drive_index.MatchCheck(session, actor, root_levels)
    page = search_page(engine, query, visibility, keep=check.readable)
    located = check.located([hit.node_id for hit in page.hits])
    found = [Found(located[hit.node_id], hit) for hit in page.hits if hit.node_id in located]
    audit.append(
        session=session,
        context=context,
        action="search.query",
        object_type="search",
        detail={"query": query.text[:500], "total": page.total, "offset": query.offset},
    )
    return found, page
