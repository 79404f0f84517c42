"""``GET /api/v1/chat/search``: the messenger's full-text search over the messages of the rooms
one is joined to (``search.message_search``), with the documents' terms, folding and Roman-script
keys. Served by search, which builds on chat: chat knows nothing of search.

Times are IST: ``from`` and ``to`` take a date (``2026-12-06``, the whole day in IST) or a time
(``2026-12-06T14:30``, read as IST unless it carries its own offset); ``to`` is inclusive for a
date and exclusive for a time. The answer's times are IST with the offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from polaris.chat.export import IST, ist
from polaris.chat.present import user_names
from polaris.db.uow import transaction
from polaris.deps import CurrentCaller, CurrentInstance, DbSession
from polaris.errors import NotFound, ValidationFailed
from polaris.identity import users
from polaris.search.interface import MAX_LIMIT, MAX_OFFSET, Highlight
from polaris.search.message_search import MessageFilters, search_messages
from polaris.search.messages import message_engine_of
from polaris.search.query import parse_query
from polaris.web.params import MAX_ID

router = APIRouter(tags=["chat"])


class MarkedText(BaseModel):
    """Text with the matched words as ``[start, end)`` character offsets (never markup)."""

    text: str
    spans: list[tuple[int, int]]

    @classmethod
    def of(cls, highlight: Highlight) -> MarkedText:
        return cls(text=highlight.text, spans=list(highlight.spans))


class MessageHitRead(BaseModel):
    event_id: str
    room_id: int
    room_name: str
    sender_id: int | None
    #: When it was sent, IST with the offset.
    sent_at: str
    snippet: MarkedText


class MessageResults(BaseModel):
    #: Matches the caller may see now (checked against the database, not only the index).
    total: int
    total_exact: bool
    offset: int
    limit: int
    hits: list[MessageHitRead]
    #: The names of the senders of the hits.
    users: dict[str, str]


def ist_moment(value: str | None, *, end: bool) -> dt.datetime | None:
    """A bound from a date (the IST day; ``end``: the next day's start) or a time (IST unless it
    says otherwise)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), tzinfo=IST)
            return start + dt.timedelta(days=1) if end else start
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "a date (2026-12-06) or a time (2026-12-06T14:30) in IST", code="search_date"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=IST)


@router.get("/chat/search", response_model=MessageResults)
def search(
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
    q: Annotated[str, Query(max_length=1000)] = "",
    room: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    sender: Annotated[str | None, Query(max_length=64)] = None,
    sent_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    sent_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> MessageResults:
    """Messages of the rooms the caller is joined to that match ``q`` (words, "phrases",
    prefix*, OR, NOT, as in the document search), best first; deleted messages are never found."""
    parse_query(q)  # a malformed query is refused before any engine is asked
    filters = MessageFilters(
        room_id=room,
        sent_from=ist_moment(sent_from, end=False),
        sent_to=ist_moment(sent_to, end=True),
    )
    engine = message_engine_of(instance)
    with transaction(session):
        if sender:
            try:
                sender_id = users.get_by_username(session=session, username=sender).id
            except NotFound as unknown:
                raise ValidationFailed(unknown.detail, code="search_filter") from None
            filters = MessageFilters(filters.room_id, sender_id, filters.sent_from, filters.sent_to)
        found, page = search_messages(
            session=session,
            actor=caller.actor,
            context=caller.context,
            engine=engine,
            text=q,
            filters=filters,
            limit=limit,
            offset=offset,
        )
        names = user_names(session, [item.message.sender_id for item in found])
    return MessageResults(
        total=page.total,
        total_exact=page.total_exact,
        offset=page.offset,
        limit=page.limit,
        hits=[
            MessageHitRead(
                event_id=item.message.event_key,
                room_id=item.message.room_id,
                room_name=item.message.room_name,
                sender_id=item.message.sender_id,
                sent_at=ist(item.message.sent_at) or "",
                snippet=MarkedText.of(item.hit.snippet),
            )
            for item in found
        ],
        users={str(user_id): name for user_id, name in names.items()},
    )
