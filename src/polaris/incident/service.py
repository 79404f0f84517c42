"""Turning the incident switch on and off, and reading it cheaply on every request.

The switch lives in the audit log itself: ``incident.on`` (with its reason) and ``incident.off``
records; the newest of them is the state. So the state is in the database (every node sees it),
each change is audited by construction, no table or migration is needed, and an attacker who
flips it back quietly would have to break the hash chain to hide it.

Every request would read it, so :class:`CachedState` keeps what it read for ``ttl`` seconds
(2 s by default): another node follows a change within that time; the node that made the change
at once (:meth:`CachedState.invalidate`). A write waits for a fresh value; a read (never refused;
it only shows the banner) takes the last one while one request reads it again
(:meth:`CachedState.last`).

Turning it on or off is administration: the command line (``actor`` None, the instance's operator)
or an administrator (``access.gate``, refusals audited), from the status page. While it is on, the
page's switch-off is the one administration form the read-only gate lets through
(``polaris.web.readonly``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polaris.access import gate
from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.errors import Conflict, ValidationFailed

ON = "incident.on"
OFF = "incident.off"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
MAX_REASON_CHARS = 500  # the audit record's reason column


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


def _require(session: Session, actor: Actor | None, context: AuditContext, operation: str) -> None:
    """Administrators only; ``actor`` None is the command line, run by the instance's operator."""
    if actor is not None:
        gate.require_admin(session=session, actor=actor, operation=operation, context=context)


def turn_on(
    *, session: Session, actor: Actor | None, context: AuditContext, reason: str
) -> IncidentState:
    _require(session, actor, context, ON)
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed(
            "give the reason for turning the incident switch on", code="reason_required"
        )
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationFailed(
            f"the reason is longer than {MAX_REASON_CHARS} characters", code="reason_too_long"
        )
    if current(session=session) is not None:
        raise Conflict("the incident switch is already on", code="incident_already_on")
    record = audit.append(
        session=session, context=context, action=ON, object_type="instance", object_id=0,
        reason=reason,
    )  # fmt: skip
    return IncidentState(reason=record.reason or reason, since=record.at, by=context.actor_name)


def turn_off(*, session: Session, actor: Actor | None, context: AuditContext) -> IncidentState:
    """Turn it off; the state that ended."""
    _require(session, actor, context, OFF)
    ended = current(session=session)
    if ended is None:
        raise Conflict("the incident switch is not on", code="incident_not_on")
    audit.append(session=session, context=context, action=OFF, object_type="instance", object_id=0)
    return ended


#: How long a reader chosen to read the switch again (``CachedState.last``) has to do it.
CLAIM_SECONDS = 5.0


class CachedState:
    """:func:`current`, read at most once per ``ttl`` seconds per process."""

    def __init__(self, sessions: sessionmaker[Session], *, ttl: float = 2.0) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._lock = threading.Lock()
        self._lock_claim = threading.Lock()
        self._value: IncidentState | None = None
        self._read_at: float | None = None
        #: When a reader was last chosen to read it again (``last``); None once read.
        self._claimed_at: float | None = None

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
                self._claimed_at = None
            return self._value

    def last(self) -> tuple[bool, IncidentState | None, bool]:
        """Without waiting: whether it was ever read, the value last read, and whether the
        caller is the one to read it again now (with ``get``: it is stale and no one else was
        chosen in the last ``CLAIM_SECONDS``; a chosen caller that never reads is replaced
        then). A burst of requests after the lifetime ran out each made a trip to the thread
        pool to wait for the same read (a quarter of the check's time in 200 long-polls)."""
        read_at, value = self._read_at, self._value
        if read_at is None:
            return False, None, False
        now = time.monotonic()
        if now - read_at < self._ttl:
            return True, value, False
        with self._lock_claim:
            claimed = self._claimed_at
            if claimed is not None and now - claimed < CLAIM_SECONDS:
                return True, value, False
            self._claimed_at = now
        return True, value, True

    def invalidate(self) -> None:
        self._read_at = None
