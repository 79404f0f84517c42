"""Turning the incident switch on and off, and reading it cheaply on every request.

The switch lives in the audit log itself: ``incident.on`` (with its reason) and ``incident.off``
records; the newest of them is the state. So the state is in the database (every node sees it),
each change is audited by construction, no table or migration is needed, and an attacker who
flips it back quietly would have to break the hash chain to hide it.

Every request would read it, so :class:`CachedState` keeps what it read for ``ttl`` seconds
(2 s by default): another node follows a change within that time; the node that made the change
at once (:meth:`CachedState.invalidate`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.errors import Conflict, ValidationFailed

ON = "incident.on"
OFF = "incident.off"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")


@dataclass(frozen=True)
class IncidentState:
    reason: str
    since: dt.datetime
    by: str | None

    @property
    def since_ist(self) -> str:
        return self.since.astimezone(IST).isoformat(timespec="seconds")


def current(*, session: Session) -> IncidentState | None:
    """The switch as the newest ``incident.*`` record says; None when off."""
    row = session.execute(
        select(AuditRecord.action, AuditRecord.reason, AuditRecord.at, AuditRecord.actor_name)
        .where(AuditRecord.action.in_((ON, OFF)))
        .order_by(AuditRecord.id.desc())
        .limit(1)
    ).first()
    if row is None or row.action == OFF:
        return None
    return IncidentState(reason=row.reason or "", since=row.at, by=row.actor_name)


def turn_on(*, session: Session, context: AuditContext, reason: str) -> IncidentState:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed("give the reason for turning the incident switch on")
    if current(session=session) is not None:
        raise Conflict("the incident switch is already on", code="incident_already_on")
    record = audit.append(
        session=session, context=context, action=ON, object_type="instance", object_id=0,
        reason=reason,
    )  # fmt: skip
    return IncidentState(reason=record.reason or reason, since=record.at, by=context.actor_name)


def turn_off(*, session: Session, context: AuditContext) -> IncidentState:
    """Turn it off; the state that ended."""
    ended = current(session=session)
    if ended is None:
        raise Conflict("the incident switch is not on", code="incident_not_on")
    audit.append(session=session, context=context, action=OFF, object_type="instance", object_id=0)
    return ended


class CachedState:
    """:func:`current`, read at most once per ``ttl`` seconds per process."""

    def __init__(self, sessions: sessionmaker[Session], *, ttl: float = 2.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: IncidentState | None = None
        self._read_at: float | None = None

    def fresh(self) -> bool:
        read_at = self._read_at
        return read_at is not None and time.monotonic() - read_at < self._ttl

    def get(self) -> IncidentState | None:
        if self.fresh():
            return self._value
        with self._lock:
            if not self.fresh():
                with self._sessions() as session:
                    self._value = current(session=session)
                self._read_at = time.monotonic()
            return self._value

    def invalidate(self) -> None:
        self._read_at = None
