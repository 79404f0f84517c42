"""The SQL of notifications. Functions take the session first and never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from polaris.db.base import UTCDateTime
from polaris.identity.models import User
from polaris.notifications.models import Notification

MAX_PAGE = 100


def add_for_users(
    session: Session,
    recipients: ColumnElement[bool],
    *,
    kind: str,
    subject: tuple[str, int],
    source_id: int,
    actor_id: int | None,
    min_clearance: int,
    now: dt.datetime,
) -> None:
    """One row for each enabled user matching ``recipients`` (cleared for ``min_clearance``, not
    the actor), in one ``INSERT ... SELECT``: a share with a district of 5,000 officers is one
    statement, not 5,000. A source that told anyone already tells nobody again (its rows are
    written all at once, in its consumer's transaction), so a batch handed over twice does no
    harm: one indexed lookup, not a ``NOT EXISTS`` per recipient (on PostgreSQL that made the
    insert read the table it was filling for every row)."""
    told = session.scalar(
        select(Notification.id)
        .where(Notification.kind == kind, Notification.source_id == source_id)
        .limit(1)
    )
    if told is not None:
        return
    chosen = select(
        User.id,
        literal(kind, String()),
        literal(subject[0], String()),
        literal(subject[1], Integer()),
        literal(source_id, Integer()),
        literal(actor_id, Integer()),
        literal(now, UTCDateTime()),
    ).where(
        recipients,
        User.disabled_at.is_(None),
        User.clearance >= min_clearance,
        User.id != (actor_id if actor_id is not None else -1),
    )
    columns = ["user_id", "kind", "subject_type", "subject_id", "source_id", "actor_id"]
    session.execute(insert(Notification).from_select([*columns, "created_at"], chosen))


def drop_unread(session: Session, *, kind: str, source_ids: Sequence[int]) -> None:
    """Take back the unread notifications these sources made (a revoked share's)."""
    if source_ids:
        session.execute(
            delete(Notification).where(
                Notification.kind == kind,
                Notification.source_id.in_(sorted(set(source_ids))),
                Notification.read_at.is_(None),
            )
        )


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def newest(
    session: Session, user_id: int, *, limit: int = MAX_PAGE, before: int | None = None
) -> list[Notification]:
    """The user's notifications, newest first; ``before`` an id for the next page."""
    query = select(Notification).where(Notification.user_id == user_id)
    if before is not None:
        query = query.where(Notification.id < before)
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def mark_read(
    session: Session, user_id: int, *, ids: Sequence[int] | None, now: dt.datetime
) -> int:
    """Mark the user's own notifications read (all of them when ``ids`` is None); ids of others'
    are passed over as if they did not exist. Returns how many changed."""
    query = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        if not ids:
            return 0
        query = query.where(Notification.id.in_(sorted(set(ids))))
    result = session.execute(query.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def one(session: Session, user_id: int, notification_id: int) -> Notification | None:
    return session.scalars(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    ).one_or_none()
