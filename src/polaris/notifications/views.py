"""The notifications page (``/notifications``), marking read, and the header's unread count.

Each notification links to what it is about; a button marks it read, another marks them all.
Reading the page changes nothing (a GET never writes).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive.sidebar import make_missing_spaces, sidebar_of
from polaris.notifications import service
from polaris.web.header import HeaderCounts
from polaris.web.pages import PageCaller, page
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)


def count_unread(session: Session, user_id: int) -> int:
    return service.unread_count(session=session, user_id=user_id)


def register(counts: HeaderCounts) -> None:
    """Put the unread count into every signed-in page's header (``web.header``)."""
    counts.add("notifications", count_unread)


@router.get("/notifications")
def notifications_page(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    before: Id | None = None,
) -> Response:
    make_missing_spaces(session=session, actor=caller.actor, settings=instance.settings)
    with transaction(session, read_only=True):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        items, next_before = service.listing(session=session, actor=caller.actor, before=before)
    return page(
        request,
        caller,
        "notifications.html",
        sidebar,
        items=items,
        next_before=next_before,
    )


@router.post("/notifications/read")
def mark_all_read(caller: PageCaller, session: DbSession, ids: list[Id] = Form([])) -> Response:
    """The ids given, or every unread notification when none is."""
    with transaction(session):
        service.mark_read(session=session, actor=caller.actor, ids=ids or None)
    return RedirectResponse("/notifications", status_code=303)
