"""All SQL of the change stream. Takes the session first and never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from polaris.events.models import HEAD_ROW_ID, DomainEvent, EventCursor, EventHead

_HEAD = EventHead.__table__
_CURSOR = EventCursor.__table__


#: Built once: a Core INSERT of the table with the values as parameters. ``insert(DomainEvent)
#: .values(values)`` made a new ORM statement a call (its construction, coercions and the ORM's
#: bulk path cost more than the insert; every upload appends two).
_INSERT_EVENT = insert(cast(Table, DomainEvent.__table__))


def add_event(session: Session, values: dict[str, object]) -> None:
    """INSERT one event (position NULL): no shared row is touched, so appenders never wait."""
    session.execute(_INSERT_EVENT, values)


def lock_or_create_head(session: Session) -> int:
    """The last position given out, with the head row locked until the transaction ends.

    The lock waits (no ``SKIP LOCKED``): a sequencer that gave up could leave an event that
    committed after the other sequencer's snapshot unsequenced until the next wake-up.
    """
    query = select(EventHead.position).where(EventHead.id == HEAD_ROW_ID).with_for_update()
    position = session.execute(query).scalar_one_or_none()
    if position is not None:
        return position
    _insert_ignoring_conflict(session, _HEAD, {"id": HEAD_ROW_ID, "position": 0}, "id")
    return session.execute(query).scalar_one()


#: Prebuilt Core (through the ORM, an evaluated bulk update a pass).
_SET_HEAD = (
    update(cast(Table, _HEAD))
    .where(_HEAD.c.id == HEAD_ROW_ID)
    .values(position=bindparam("b_position"))
)


def set_head(session: Session, position: int) -> None:
    session.connection().execute(_SET_HEAD, {"b_position": position})


def head_position(session: Session) -> int:
    found = session.execute(
        select(EventHead.position).where(EventHead.id == HEAD_ROW_ID)
    ).scalar_one_or_none()
    return found or 0


#: Whether an event waits for its position, and the head: one statement (every Matrix ``/sync``
#: and every look of the runner and the chat hub asks both).
_PENDING_AND_HEAD = select(
    select(DomainEvent.id)
    .where(DomainEvent.position.is_(None))
    .order_by(DomainEvent.id)
    .limit(1)
    .scalar_subquery(),
    select(EventHead.position).where(EventHead.id == HEAD_ROW_ID).scalar_subquery(),
)


def pending_and_head(session: Session) -> tuple[bool, int]:
    """Whether a committed event waits for its position, and the last position given out."""
    pending, head = session.execute(_PENDING_AND_HEAD).one()
    return pending is not None, head or 0


def oldest_position(session: Session) -> int | None:
    """The lowest position still kept (``None`` when no sequenced event is kept)."""
    return session.execute(select(func.min(DomainEvent.position))).scalar_one_or_none()


def unsequenced_ids(session: Session, *, limit: int) -> list[int]:
    """Committed events without a position, in id order (the order they were appended)."""
    query = (
        select(DomainEvent.id)
        .where(DomainEvent.position.is_(None))
        .order_by(DomainEvent.id)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def count_unsequenced(session: Session) -> int:
    query = select(func.count()).select_from(DomainEvent).where(DomainEvent.position.is_(None))
    return int(session.execute(query).scalar_one())


_EVENTS = cast(Table, DomainEvent.__table__)
#: One ``executemany`` of a prebuilt Core statement (the ORM's bulk update by primary key did
#: the same statement with its own bookkeeping around it, a twelfth of a busy room's CPU with
#: the rest of the sequencing).
_ASSIGN_POSITION = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("b_id"))
    .values(position=bindparam("b_position"))
)


def assign_positions(session: Session, ids: Sequence[int], *, first: int) -> None:
    session.connection().execute(
        _ASSIGN_POSITION,
        [{"b_id": event_id, "b_position": first + n} for n, event_id in enumerate(ids)],
    )


def events_after(
    session: Session,
    *,
    after: int,
    limit: int,
    kinds: Sequence[str] | None = None,
    until: int | None = None,
) -> list[DomainEvent]:
    query = select(DomainEvent).where(DomainEvent.position > after)
    if until is not None:
        query = query.where(DomainEvent.position <= until)
    if kinds is not None:
        query = query.where(DomainEvent.kind.in_(kinds))
    query = query.order_by(DomainEvent.position).limit(limit)
    return list(session.execute(query).scalars())


#: Every event of a range of the stream, as the columns an ``Event`` holds.
_BETWEEN = (
    select(
        DomainEvent.position,
        DomainEvent.kind,
        DomainEvent.subject_type,
        DomainEvent.subject_id,
        DomainEvent.space_id,
        DomainEvent.actor_id,
        DomainEvent.created_at,
        DomainEvent.data,
    )
    .where(DomainEvent.position > bindparam("after"), DomainEvent.position <= bindparam("until"))
    .order_by(DomainEvent.position)
)


def events_between(session: Session, *, after: int, until: int) -> list[Row[Any]]:
    """Every event in (``after``, ``until``], in position order, in one prebuilt statement (the
    consumers' shared pass reads a range once and hands each consumer its kinds)."""
    return list(session.execute(_BETWEEN, {"after": after, "until": until}))


def events_about_after(
    session: Session,
    *,
    after: int,
    subject_type: str,
    subject_ids: Sequence[int] | None,
    kinds: Sequence[str],
) -> list[DomainEvent]:
    """Committed events of ``kinds`` about these subjects (all of the type when ``None``) that
    come after position ``after``: sequenced after it, or not sequenced yet."""
    query = select(DomainEvent).where(
        DomainEvent.subject_type == subject_type,
        DomainEvent.kind.in_(kinds),
        or_(DomainEvent.position > after, DomainEvent.position.is_(None)),
    )
    if subject_ids is not None:
        query = query.where(DomainEvent.subject_id.in_(subject_ids))
    return list(session.execute(query.order_by(DomainEvent.id)).scalars())


def last_position_until(session: Session, *, after: int, limit: int) -> int | None:
    """The position of the ``limit``-th event after ``after`` (or the last one): how far a
    filtered read of ``limit`` events has looked, matching or not."""
    query = (
        select(DomainEvent.position)
        .where(DomainEvent.position > after)
        .order_by(DomainEvent.position)
        .limit(limit)
    )
    positions = list(session.execute(query).scalars())
    return positions[-1] if positions else None


def lock_or_create_cursor(session: Session, consumer: str, *, start: int) -> int:
    """The consumer's position, its cursor row locked until the transaction ends."""
    query = select(EventCursor.position).where(EventCursor.consumer == consumer).with_for_update()
    position = session.execute(query).scalar_one_or_none()
    if position is not None:
        return position
    _insert_ignoring_conflict(
        session, _CURSOR, {"consumer": consumer, "position": start}, "consumer"
    )
    return session.execute(query).scalar_one()


#: Several cursors' positions, locked in name order (PostgreSQL locks the rows as the sorted
#: plan returns them; SQLite's write transaction holds the one writer lock already).
_LOCK_CURSORS = (
    select(EventCursor.consumer, EventCursor.position)
    .where(EventCursor.consumer.in_(bindparam("names", expanding=True)))
    .order_by(EventCursor.consumer)
    .with_for_update()
)
_ADVANCE_CURSORS = (
    update(EventCursor)
    .where(EventCursor.consumer.in_(bindparam("names", expanding=True)))
    .values(position=bindparam("position"), updated_at=bindparam("now"), error=None, failed_at=None)
)


def lock_cursors(session: Session, consumers: Sequence[str]) -> dict[str, int]:
    """The positions of the existing cursors among ``consumers``, each row locked until the
    transaction ends (in name order), in one statement."""
    found = session.execute(_LOCK_CURSORS, {"names": list(consumers)})
    return {name: position for name, position in found}


def advance_cursors(
    session: Session, consumers: Sequence[str], *, position: int, now: dt.datetime
) -> None:
    """Move these cursors to ``position`` (held locked by the caller), in one statement."""
    if consumers:
        session.execute(
            _ADVANCE_CURSORS, {"names": list(consumers), "position": position, "now": now}
        )


def advance_cursor(session: Session, consumer: str, *, position: int, now: dt.datetime) -> None:
    session.execute(
        update(EventCursor)
        .where(EventCursor.consumer == consumer)
        .values(position=position, updated_at=now, error=None, failed_at=None)
    )


def record_failure(session: Session, consumer: str, *, error: str, now: dt.datetime) -> None:
    session.execute(
        update(EventCursor)
        .where(EventCursor.consumer == consumer)
        .values(error=error, failed_at=now)
    )


def cursors(session: Session) -> list[EventCursor]:
    return list(session.execute(select(EventCursor).order_by(EventCursor.consumer)).scalars())


def cursor_positions(session: Session) -> dict[str, int]:
    rows = session.execute(select(EventCursor.consumer, EventCursor.position))
    return {row.consumer: row.position for row in rows}


_CURSOR_GLANCE = select(EventCursor.consumer, EventCursor.position, EventCursor.error.is_not(None))


def cursor_glance(session: Session) -> tuple[dict[str, int], frozenset[str]]:
    """Every cursor's position, and the consumers whose last batch failed (an error is kept on
    the cursor until a batch succeeds), in one statement."""
    positions: dict[str, int] = {}
    failing: set[str] = set()
    for consumer, position, failed in session.execute(_CURSOR_GLANCE):
        positions[consumer] = position
        if failed:
            failing.add(consumer)
    return positions, frozenset(failing)


def delete_through(session: Session, *, position: int, created_before: dt.datetime) -> int:
    """Remove the longest run of sequenced events from the oldest kept, at or below
    ``position``, that were all created before ``created_before``.

    Only a prefix goes, never events in between: a late commit can hold a higher position but
    an older time than its neighbours, and removing it alone would leave a hole that a reader
    could not tell from a lost event.
    """
    first_young = session.execute(
        select(func.min(DomainEvent.position)).where(
            DomainEvent.position.is_not(None), DomainEvent.created_at >= created_before
        )
    ).scalar_one_or_none()
    through = position if first_young is None else min(position, first_young - 1)
    result = session.execute(delete(DomainEvent).where(DomainEvent.position <= through))
    return int(getattr(result, "rowcount", 0) or 0)


def _insert_ignoring_conflict(
    session: Session, table: object, values: dict[str, object], key: str
) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=[key])  # type: ignore[arg-type]
        )
    else:
        session.execute(
            sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=[key])  # type: ignore[arg-type]
        )
