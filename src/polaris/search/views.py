"""The search page: a box in every page's header, results with highlights, a few filters."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import spaces
from polaris.drive.schemas import ClassificationName, NodeRead
from polaris.drive.sidebar import sidebar_of
from polaris.errors import ValidationFailed
from polaris.search import querying, views_messages
from polaris.search.api import TypeGroup, build_query
from polaris.search.indexing import engine_of
from polaris.web.pages import PageCaller, page
from polaris.web.params import Day

router = APIRouter(include_in_schema=False)
router.include_router(views_messages.router)
PAGE_SIZE = 20


@router.get("/search")
def search_page(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    q: str = Query("", max_length=500),
    types: list[TypeGroup] = Query(default_factory=list, alias="type"),
    classification: ClassificationName | None = Query(None),
    modified_from: Day | None = None,
    offset: int = Query(0, ge=0, le=1000),
) -> Response:
    found: list[tuple[NodeRead, querying.Found]] = []
    total = 0
    total_exact = True
    error = None
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        if q.strip() or types or classification or modified_from:
            try:
                query = build_query(
                    session,
                    q=q,
                    space_id=None,
                    types=types,
                    classification=classification,
                    owner=None,
                    unit=None,
                    modified_from=modified_from,
                    modified_to=None,
                    limit=PAGE_SIZE,
                    offset=offset,
                )
            except ValidationFailed as refused:
                error = refused.code
            else:
                results, result_page = querying.search(
                    session=session,
                    actor=caller.actor,
                    context=caller.context,
                    engine=engine_of(instance),
                    query=query,
                    defaults=spaces.space_defaults(instance.settings),
                    space_ids=frozenset(space.id for space in sidebar),
                )
                found = [(NodeRead.of(item.located, caller.actor), item) for item in results]
                total = result_page.total
                total_exact = result_page.total_exact
    return page(
        request,
        caller,
        "search.html",
        sidebar,
        q=q,
        types=types,
        classification=classification,
        modified_from=modified_from.isoformat() if modified_from else "",
        found=found,
        total=total,
        total_exact=total_exact,
        offset=offset,
        page_size=PAGE_SIZE,
        search_error=error,
    )
