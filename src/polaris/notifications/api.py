"""JSON routes of notifications under ``/api/v1/notifications``: the list, the unread count, mark
read. Texts come in the caller's language (``polaris_lang`` cookie, else ``Accept-Language``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from polaris.db.uow import transaction
from polaris.deps import CurrentCaller, DbSession, ReadCaller
from polaris.notifications import service
from polaris.web.i18n import pick_language, translations
from polaris.web.params import Id

router = APIRouter(tags=["notifications"])


class NotificationRead(BaseModel):
    id: int
    kind: str
    text: str
    url: str
    created_at: dt.datetime
    read: bool


class NotificationPage(BaseModel):
    notifications: list[NotificationRead]
    next_before: int | None = Field(description="Pass as ?before= for older ones; null at the end")


class UnreadCount(BaseModel):
    unread: int


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Id] | None = Field(default=None, max_length=500, description="None: all of them")


@router.get("/notifications", response_model=NotificationPage)
def list_notifications(
    request: Request,
    caller: ReadCaller,
    session: DbSession,
    before: Annotated[Id | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = service.PAGE_SIZE,
) -> NotificationPage:
    catalogue = translations(pick_language(request))
    with transaction(session, read_only=True):
        items, next_before = service.listing(
            session=session, actor=caller.actor, before=before, limit=limit
        )
    return NotificationPage(
        notifications=[
            NotificationRead(
                id=item.id,
                kind=item.kind,
                text=catalogue.gettext(item.message) % item.values,
                url=item.url,
                created_at=item.created_at,
                read=item.read,
            )
            for item in items
        ],
        next_before=next_before,
    )


@router.get("/notifications/count", response_model=UnreadCount)
def unread(caller: ReadCaller, session: DbSession) -> UnreadCount:
    with transaction(session, read_only=True):
        return UnreadCount(unread=service.unread_count(session=session, user_id=caller.user.id))


@router.post("/notifications/read", response_model=UnreadCount)
def mark_read(body: MarkRead, caller: CurrentCaller, session: DbSession) -> UnreadCount:
    """Mark these (or all) read; ids that are not the caller's are passed over. Answers the
    unread count after."""
    with transaction(session):
        service.mark_read(session=session, actor=caller.actor, ids=body.ids)
        return UnreadCount(unread=service.unread_count(session=session, user_id=caller.user.id))
