"""Append, sequence and read the change stream (see ``polaris.events``)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.events import notify, repo
from polaris.events.models import DomainEvent

#: Events given positions per sequencer transaction; a larger backlog takes several.
SEQUENCE_BATCH = 5000
#: Set when a transaction that appended events commits in this process (the runner waits on it).
WAKE = threading.Event()
_WAKE_PENDING = "polaris.events.wake_pending"

#: What an event's ``data`` may hold: ids and flags, never content (names, text).
DataValue = int | bool | None | list[int]


@dataclass(frozen=True)
class Event:
    """A sequenced event, detached from the session."""

    position: int
    kind: str
    subject_type: str
    subject_id: int
    space_id: int | None
    actor_id: int | None
    created_at: dt.datetime
    data: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, row: DomainEvent | Row[Any]) -> Event:
        """From the ORM's row, or a Core row of the same columns (``repo.events_between``)."""
        assert row.position is not None
        return cls(
            position=row.position,
            kind=row.kind,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            space_id=row.space_id,
            actor_id=row.actor_id,
            created_at=row.created_at,
            data=dict(row.data or {}),
        )


def append(
    session: Session,
    *,
    kind: str,
    subject: tuple[str, int],
    space_id: int | None = None,
    actor_id: int | None = None,
    data: Mapping[str, DataValue] | None = None,
) -> None:
    """Record a change in the caller's transaction: it exists exactly when the change commits.

    ``kind`` is ``<subject>.<what happened>`` (``node.moved``); ``data`` holds the other ids the
    change involves. Never commits.
    """
    if "." not in kind or len(kind) > 64:
        raise ValueError(
            f"event kind {kind!r} is not '<subject>.<change>' of at most 64 characters"
        )
    values = dict(data or {})
    for key, value in values.items():
        if not _is_id_value(value):
            raise ValueError(f"event data {key!r} must be ids or flags, not {type(value).__name__}")
    repo.add_event(
        session,
        {
            "kind": kind,
            "subject_type": subject[0],
            "subject_id": subject[1],
            "space_id": space_id,
            "actor_id": actor_id,
            "data": values,
            "created_at": utcnow(),
        },
    )
    if not session.info.get(_WAKE_PENDING):
        session.info[_WAKE_PENDING] = True  # once per transaction, however many events
        orm_event.listen(session, "after_commit", _wake, once=True)
        orm_event.listen(session, "after_rollback", _forget_wake, once=True)


def _is_id_value(value: object) -> bool:
    if value is None or isinstance(value, bool | int):
        return True
    return isinstance(value, list) and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    )


def _wake(session: Session) -> None:
    session.info.pop(_WAKE_PENDING, None)
    WAKE.set()
    notify.nudge_others()


def _forget_wake(session: Session) -> None:
    session.info.pop(_WAKE_PENDING, None)


def sequence(session: Session, *, limit: int = SEQUENCE_BATCH) -> int:
    """Give committed, unsequenced events the next positions, in the order they were appended;
    how many were sequenced. Never commits: the positions appear when the caller commits.

    Runs under the head row's lock, so sequencers on several nodes take turns and each one's
    positions follow every position given before. An event whose transaction commits after this
    snapshot is sequenced by a later call, after everything sequenced now: a reader that has seen
    position P has seen every event that will ever hold a position up to P.
    """
    head = repo.lock_or_create_head(session)
    ids = repo.unsequenced_ids(session, limit=limit)
    if not ids:
        return 0
    repo.assign_positions(session, ids, first=head + 1)
    repo.set_head(session, head + len(ids))
    return len(ids)


def continue_after(session: Session, position: int) -> int:
    """Make the next position follow ``position`` (or the head, if that is later); the head.

    For a database rebuilt without the old one (``polaris recover``): what was written from the
    old stream (placement records carry its positions) must stay older than what comes next.
    Takes the head row's lock, like :func:`sequence`; never commits.
    """
    head = repo.lock_or_create_head(session)
    if position > head:
        repo.set_head(session, position)
        return position
    return head


def since(
    session: Session,
    *,
    after: int,
    limit: int = 500,
    kinds: Sequence[str] | None = None,
    until: int | None = None,
) -> list[Event]:
    """Sequenced events after position ``after`` (up to ``until`` when given), oldest first, at
    most ``limit``."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    rows = repo.events_after(session, after=after, limit=limit, kinds=kinds, until=until)
    return [Event.of(row) for row in rows]


@dataclass(frozen=True)
class Later:
    """An event after some position; ``position`` is ``None`` while it waits for the sequencer
    (it committed, and its position will follow every position given so far)."""

    position: int | None
    kind: str
    subject_id: int
    data: Mapping[str, object]

    def after(self, position: int) -> bool:
        return self.position is None or self.position > position


#: Ids per ``IN (...)`` list, small enough for every database.
_IDS_PER_QUERY = 500


def later_events(
    session: Session,
    *,
    after: int,
    subject_type: str,
    subject_ids: Sequence[int] | None,
    kinds: Sequence[str],
) -> list[Later]:
    """Committed events of ``kinds`` about these subjects (every subject of the type when
    ``None``) that come after position ``after``, those not sequenced yet included.

    For a reader that judges an old event by today's rows: a change those rows already show has
    committed, so its event is here, sequenced or not.
    """
    if subject_ids is None:
        batches: list[Sequence[int] | None] = [None]
    else:
        ids = sorted(set(subject_ids))
        batches = [ids[n : n + _IDS_PER_QUERY] for n in range(0, len(ids), _IDS_PER_QUERY)]
    found = []
    for batch in batches:
        rows = repo.events_about_after(
            session, after=after, subject_type=subject_type, subject_ids=batch, kinds=kinds
        )
        found += [
            Later(row.position, row.kind, row.subject_id, dict(row.data or {})) for row in rows
        ]
    return found


def head_position(session: Session) -> int:
    """The last position given out (0 for an empty stream)."""
    return repo.head_position(session)


def oldest_position(session: Session) -> int | None:
    """The lowest position still kept; a reader behind it has missed compacted events."""
    return repo.oldest_position(session)


def compact(session: Session, *, retention: dt.timedelta, keep_after: int) -> int:
    """Remove the oldest events, as long as each is older than ``retention`` and every consumer
    has read it (at or below ``keep_after``); how many. Only a run from the oldest kept goes, so
    what stays has no holes; the head row keeps counting, so positions are never reused."""
    return repo.delete_through(session, position=keep_after, created_before=utcnow() - retention)
