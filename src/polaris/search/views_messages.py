"""The messenger's search page, ``/chat/search``: the chat page's search box leads here. The same
search as ``GET /api/v1/chat/search`` (``search.message_search``: rooms one is joined to now,
every hit checked against the database), shown as a list whose entries open the message in its
room. Served by search, which builds on chat: chat knows nothing of search.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from polaris.chat.present import user_names
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.errors import ValidationFailed
from polaris.search.message_search import FoundMessage, MessageFilters, search_messages
from polaris.search.messages import message_engine_of
from polaris.search.query import parse_query
from polaris.web.pages import PageCaller, page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@router.get("/chat/search")
def message_search_page(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    q: str = Query("", max_length=1000),
    offset: int = Query(0, ge=0, le=1000),
) -> Response:
    found: list[FoundMessage] = []
    names: dict[int, str] = {}
    total = 0
    error = None
    if q.strip():
        try:
            parse_query(q)
            with transaction(session):
                found, results = search_messages(
                    session=session,
                    actor=caller.actor,
                    context=caller.context,
                    engine=message_engine_of(instance),
                    text=q,
                    filters=MessageFilters(),
                    limit=PAGE_SIZE,
                    offset=offset,
                )
                total = results.total
                names = user_names(session, [item.message.sender_id for item in found])
        except ValidationFailed as refused:
            error = refused.code
    return page(
        request,
        caller,
        "chat_search.html",
        [],
        q=q,
        found=found,
        names=names,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        search_error=error,
    )
