"""Searching messages as a user: the rooms they are joined to are the visibility, the engine is
asked, every match is checked once more against the database, and the search is audited.

As with documents (``search.querying``), the engine applies the visibility inside its query, so
messages of other rooms never crowd a user's own out, and the index can lag the database (a
message deleted, a room left a moment ago): :func:`polaris.search.paging.search_page` counts,
pages and highlights only the matches ``chat.search_source.visible_messages`` lets through. A
deleted message is removed from the index by its job; until then the check hides it, from the
hits and from the total alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.chat import search_source
from polaris.search.interface import SearchEngine, SearchHit, SearchPage, SearchQuery, Visibility
from polaris.search.paging import search_page


@dataclass(frozen=True)
class MessageFilters:
    """Narrow a message search: a room, a sender, a sending time (half-open, aware)."""

    room_id: int | None = None
    sender_id: int | None = None
    sent_from: dt.datetime | None = None
    sent_to: dt.datetime | None = None


@dataclass(frozen=True)
class FoundMessage:
    message: search_source.Visible
    hit: SearchHit


def search_messages(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    engine: SearchEngine,
    text: str,
    filters: MessageFilters,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[FoundMessage], SearchPage]:
    rooms = search_source.joined_room_ids(session, actor.user_id)
    query = SearchQuery(
        text=text,
        space_ids=None if filters.room_id is None else frozenset({filters.room_id}),
        owner_id=filters.sender_id,
        modified_from=filters.sent_from,
        modified_to=filters.sent_to,
        limit=limit,
        offset=offset,
    )
    visibility = Visibility(
        space_ids=rooms, shared_roots=frozenset(), max_classification=int(actor.clearance)
    )
    seen: dict[int, search_source.Visible] = {}

    def keep(event_ids: Sequence[int]) -> Collection[int]:
        seen.update(search_source.visible_messages(session, actor, event_ids, rooms))
        return seen.keys()

    page = search_page(engine, query, visibility, keep=keep)
    found = [FoundMessage(seen[hit.node_id], hit) for hit in page.hits if hit.node_id in seen]
    audit.append(
        session=session,
        context=context,
        action="chat.search",
        object_type="search",
        detail={
            "query": text[:500],
            "room_id": filters.room_id,
            "sender_id": filters.sender_id,
            "total": page.total,
            "offset": offset,
        },
    )
    return found, page
