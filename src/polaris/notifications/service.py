"""What the pages and the API do with notifications: list the reader's, count the unread, mark
read. A reader only ever reaches their own rows; an id of someone else's is passed over exactly
as an id that does not exist."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.clock import utcnow
from polaris.notifications import chat as _chat  # registers the chat presenters
from polaris.notifications import repo
from polaris.notifications import shares as _shares  # registers the share presenter
from polaris.notifications.kinds import Shown, present

PAGE_SIZE = 50
__all__ = ["PAGE_SIZE", "Shown", "_chat", "_shares", "find", "listing", "mark_read", "unread_count"]


def unread_count(*, session: Session, user_id: int) -> int:
    """Unread rows (one indexed count: it is asked on every page). A share revoked before it was
    read takes its notifications back, so this rarely counts one the list would not show."""
    return repo.unread_count(session, user_id)


def listing(
    *, session: Session, actor: Actor, before: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[Shown], int | None]:
    """A page of the reader's notifications that they may see now, newest first, and the id to
    pass as ``before`` for the next page (None at the end)."""
    rows = repo.newest(session, actor.user_id, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return present(session, actor, rows), (rows[-1].id if more and rows else None)


def mark_read(*, session: Session, actor: Actor, ids: Sequence[int] | None) -> int:
    """Mark the reader's notifications read (all when ``ids`` is None)."""
    return repo.mark_read(session, actor.user_id, ids=ids, now=utcnow())


def find(*, session: Session, actor: Actor, notification_id: int) -> Shown | None:
    """One of the reader's notifications that they may see now, else None."""
    row = repo.one(session, actor.user_id, notification_id)
    shown = present(session, actor, [row]) if row is not None else []
    return shown[0] if shown else None
