"""``GET /api/v1/search``: full-text search over what the caller may read."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from polaris.db.uow import transaction
from polaris.deps import CurrentCaller, CurrentInstance, DbSession
from polaris.drive import spaces
from polaris.drive.schemas import ClassificationName, NodeRead, classification_level
from polaris.errors import NotFound, ValidationFailed
from polaris.identity import units, users
from polaris.search import querying
from polaris.search.indexing import engine_of
from polaris.search.interface import Highlight, SearchQuery
from polaris.search.query import parse_query
from polaris.web.params import Day, Id

router = APIRouter(tags=["search"])

TypeGroup = Literal["pdf", "image", "document", "folder"]
#: What each type filter of the search box means.
TYPE_GROUPS: dict[str, frozenset[str]] = {
    "pdf": frozenset({"application/pdf"}),
    "image": frozenset(
        {"image/png", "image/jpeg", "image/tiff", "image/gif", "image/webp", "image/bmp"}
    ),
    "document": frozenset(
        {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/msword",
            "text/plain",
            "text/csv",
            "message/rfc822",
        }
    ),
    "folder": frozenset({"inode/directory"}),
}


class Marked(BaseModel):
    """Text with the matched words as ``[start, end)`` character offsets (never markup)."""

    text: str
    spans: list[tuple[int, int]]

    @classmethod
    def of(cls, highlight: Highlight) -> Marked:
        return cls(text=highlight.text, spans=list(highlight.spans))


class SearchHitRead(BaseModel):
    """A hit, best first. No relevance score: an engine's score depends on every document in
    the index, hidden ones too (see docs/security.md)."""

    node: NodeRead
    name: Marked
    snippet: Marked


class SearchResults(BaseModel):
    #: Matches the caller may read now (checked against the database, not only the index).
    total: int
    #: False when the engine stopped counting (past 1,100 matches, or PostgreSQL's 2,000 ranked):
    #: then there are at least ``total``.
    total_exact: bool
    offset: int
    limit: int
    hits: list[SearchHitRead]


def build_query(
    session: DbSession,
    *,
    q: str,
    space_id: int | None,
    types: list[TypeGroup],
    classification: ClassificationName | None,
    owner: str | None,
    unit: str | None,
    modified_from: dt.date | None,
    modified_to: dt.date | None,
    limit: int,
    offset: int,
) -> SearchQuery:
    """The engine's query from request parameters (names resolved to ids; dates as UTC days).

    The text is parsed here too, so a malformed query (``search_syntax``) is refused before any
    engine is asked.
    """
    parse_query(q)
    content_types = frozenset().union(*(TYPE_GROUPS[t] for t in types)) if types else None
    try:
        owner_id = users.get_by_username(session=session, username=owner).id if owner else None
        unit_id = units.get_by_code(session=session, code=unit).id if unit else None
    except NotFound as unknown:
        raise ValidationFailed(unknown.detail, code="search_filter") from None
    return SearchQuery(
        text=q,
        space_ids=frozenset({space_id}) if space_id is not None else None,
        content_types=content_types,
        classification=int(classification_level(classification)) if classification else None,
        owner_id=owner_id,
        unit_id=unit_id,
        modified_from=_day_start(modified_from),
        modified_to=_day_start(modified_to + dt.timedelta(days=1)) if modified_to else None,
        limit=limit,
        offset=offset,
    )


def _day_start(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@router.get("/search", response_model=SearchResults)
def search(
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
    q: str = Query("", max_length=500, description='Words (all must match), "a phrase", prefix*'),
    space_id: Id | None = None,
    types: list[TypeGroup] = Query(default_factory=list, alias="type"),
    classification: ClassificationName | None = None,
    owner: str | None = Query(None, description="The username owning a personal space"),
    unit: str | None = Query(None, description="A unit's code (its space)"),
    modified_from: Day | None = None,
    modified_to: Day | None = Query(None, description="Inclusive"),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=1000),
) -> SearchResults:
    with transaction(session):
        query = build_query(
            session,
            q=q,
            space_id=space_id,
            types=types,
            classification=classification,
            owner=owner,
            unit=unit,
            modified_from=modified_from,
            modified_to=modified_to,
            limit=limit,
            offset=offset,
        )
        found, page = querying.search(
            session=session,
            actor=caller.actor,
            context=caller.context,
            engine=engine_of(instance),
            query=query,
            defaults=spaces.space_defaults(instance.settings),
        )
        hits = [
            SearchHitRead(
                node=NodeRead.of(item.located, caller.actor),
                name=Marked.of(item.hit.name),
                snippet=Marked.of(item.hit.snippet),
            )
            for item in found
        ]
    return SearchResults(
        total=page.total,
        total_exact=page.total_exact,
        offset=page.offset,
        limit=page.limit,
        hits=hits,
    )
