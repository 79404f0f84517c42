"""Counts that other packages show in every signed-in page's header (unread notifications).

``web`` knows no domain, and every page is rendered through ``web.pages.page``: so the app, when it
is built, registers here what a package counts (``notifications.views.count_unread``), and ``page``
asks, in one short read-only transaction of its own. An app with nothing registered shows nothing.
The registry belongs to the app (``app.state``), like ``web.listing``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session

from polaris.db.uow import transaction

#: How many of something a user has (their unread notifications), in the caller's transaction.
Count = Callable[[Session, int], int]


class HeaderCounts:
    def __init__(self) -> None:
        self._sources: dict[str, Count] = {}

    def add(self, name: str, source: Count) -> None:
        self._sources[name] = source

    def read(self, session: Session, user_id: int) -> dict[str, int]:
        return {name: source(session, user_id) for name, source in self._sources.items()}

    def __bool__(self) -> bool:
        return bool(self._sources)


def install(app: FastAPI) -> HeaderCounts:
    counts = HeaderCounts()
    app.state.header_counts = counts
    return counts


def counts_for(request: Request, user_id: int) -> dict[str, int]:
    """The registered counts of ``user_id``, read in a read-only transaction of their own."""
    counts: HeaderCounts | None = getattr(request.app.state, "header_counts", None)
    if not counts:
        return {}
    session = request.app.state.instance.sessions()
    try:
        with transaction(session, read_only=True):
            return counts.read(session, user_id)
    finally:
        session.close()
