"""Reading the change events a test's actions appended (sequenced or not yet)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from polaris.events.models import DomainEvent

#: (kind, (subject type, subject id), space id, data)
Seen = tuple[str, tuple[str, int], int | None, dict[str, Any]]


class EventLog:
    """The events appended since it was made, or since the last :meth:`take`, in append order."""

    def __init__(self, sessions: sessionmaker[Session] | Session) -> None:
        self._sessions = sessions
        self._after = self._read(lambda session: session.scalar(select(func.max(DomainEvent.id))))

    def take(self, *kinds_prefix: str) -> list[Seen]:
        """What was appended since the last take (only kinds starting with one of
        ``kinds_prefix``, when given); the rest is passed over for good."""
        rows: list[DomainEvent] = self._read(
            lambda session: list(
                session.scalars(
                    select(DomainEvent)
                    .where(DomainEvent.id > (self._after or 0))
                    .order_by(DomainEvent.id)
                )
            )
        )
        if rows:
            self._after = rows[-1].id
        return [
            (row.kind, (row.subject_type, row.subject_id), row.space_id, dict(row.data))
            for row in rows
            if not kinds_prefix or row.kind.startswith(kinds_prefix)
        ]

    def _read(self, query: Any) -> Any:
        if isinstance(self._sessions, Session):
            self._sessions.flush()
            return query(self._sessions)
        with self._sessions() as session:
            return query(session)
