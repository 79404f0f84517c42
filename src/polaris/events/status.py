"""Where the change stream stands, for operators (``polaris events status``, the status page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.events import consumers, repo


@dataclass(frozen=True)
class ConsumerStatus:
    """One consumer: how far it has read, how far behind the head it is, its last failure.

    ``position`` is None for a registered consumer that has not run yet. ``registered`` is False
    for a cursor no consumer of this process reads (one removed, or registered elsewhere).
    """

    name: str
    position: int | None
    lag: int | None
    error: str | None
    failed_at: dt.datetime | None
    updated_at: dt.datetime | None
    registered: bool


@dataclass(frozen=True)
class StreamStatus:
    #: The last position given out (0 for an empty stream).
    head: int
    #: The lowest position still kept (None when none is kept: all compacted, or none yet).
    oldest: int | None
    #: Committed events waiting for the sequencer (a few at most while runners run).
    unsequenced: int
    consumers: list[ConsumerStatus]


def stream_status(session: Session) -> StreamStatus:
    head = repo.head_position(session)
    cursors = {cursor.consumer: cursor for cursor in repo.cursors(session)}
    registered = {chosen.name for chosen in consumers.registered_consumers()}
    found = []
    for name in sorted(registered | set(cursors)):
        cursor = cursors.get(name)
        found.append(
            ConsumerStatus(
                name=name,
                position=cursor.position if cursor is not None else None,
                lag=max(head - cursor.position, 0) if cursor is not None else None,
                error=cursor.error if cursor is not None else None,
                failed_at=cursor.failed_at if cursor is not None else None,
                updated_at=cursor.updated_at if cursor is not None else None,
                registered=name in registered,
            )
        )
    return StreamStatus(
        head=head,
        oldest=repo.oldest_position(session),
        unsequenced=repo.count_unsequenced(session),
        consumers=found,
    )


def consumer_position(session: Session, name: str) -> int | None:
    """How far the consumer ``name`` has read (None before its first run)."""
    return repo.cursor_positions(session).get(name)
