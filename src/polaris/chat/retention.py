"""How long the messenger keeps messages, per kind of room, and legal holds on rooms and users.

This extends the drive's retention model instead of adding a second one: a rule is a
``retention_rule`` row whose target is a kind of room (``direct``, ``group``, ``unit_channel``,
``broadcast``) with ``keep_messages_days`` D (``drive.retention.set_rule``: one rule per kind,
audited ``retention.rule_set``); a hold is a ``legal_hold`` row on a room (``room_id``) or on a
user (``user_id``: everything they sent, in every room), placed and lifted with a reason by an
administrator or the operator, like a hold on a file.

The pass (:func:`run`; the hourly ``chat.retention`` job and ``polaris retention run``) removes
the **text** of each message sent more than D days ago in a room of that kind: ``body`` becomes
None and ``purged_at`` is set, for the message and its edits, and a message not deleted before
reads as deleted to members. The rows stay: the room's order (``seq``), replies, receipts and
acknowledgements keep pointing at them, and an export shows that retention removed the text and
when. A hold on the room or on the sender keeps the message whole. Without a rule nothing is
removed. Each room's removals are one transaction with one audit record (``chat.message.purge``,
as the system user ``retention``: the count and the event ids) and one change event
(``chat.message.purged``, the event ids: the message index drops them). Attachments' files are
the drive's and follow its rules.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from polaris import events, jobs
from polaris.access import gate
from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.chat import events as chat_events
from polaris.chat import unread
from polaris.chat.models import MESSAGE_KINDS, ROOM_KINDS, ChatEvent, ChatRoom
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.drive import retention, retention_repo
from polaris.drive.models import LegalHold, RetentionRule
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity.models import User

log = logging.getLogger("polaris.chat.retention")

JOB = "chat.retention"
RUN_EVERY = dt.timedelta(hours=1)
#: Messages looked at per kind of room and pass; the next pass takes the rest.
BATCH = 2000
SYSTEM = "retention"
MESSAGE_PURGED = chat_events.MESSAGE_PURGED
ROOM_HELD = "chat.room.held"
ROOM_RELEASED = "chat.room.released"
USER_HELD = "chat.user.held"
USER_RELEASED = "chat.user.released"
MAX_REASON_CHARS = 500


def _require(session: Session, actor: Actor | None, context: AuditContext, operation: str) -> None:
    """Administrators only; ``actor`` None is the command line, run by the instance's operator."""
    if actor is not None:
        gate.require_admin(session=session, actor=actor, operation=operation, context=context)


def check_kind(kind: str) -> str:
    if kind not in ROOM_KINDS:
        raise ValidationFailed(
            f"the kind of room is one of {', '.join(ROOM_KINDS)}", code="retention_target"
        )
    return kind


def set_room_rule(
    *, session: Session, actor: Actor | None, context: AuditContext, kind: str, days: int
) -> RetentionRule:
    """Keep the messages of rooms of ``kind`` for ``days`` days (one rule per kind)."""
    return retention.set_rule(
        session=session,
        actor=actor,
        context=context,
        target=retention.Target(room_kind=check_kind(kind)),
        keep_versions_years=None,
        purge_trash_days=None,
        keep_messages_days=days,
    )


# --- holds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldTarget:
    """A room or a user: exactly one."""

    room_id: int | None = None
    user_id: int | None = None

    def __post_init__(self) -> None:
        if (self.room_id is None) == (self.user_id is None):
            raise ValidationFailed("hold a room or a user, one of them", code="hold_target")

    @property
    def subject(self) -> tuple[str, int]:
        if self.room_id is not None:
            return ("chat_room", self.room_id)
        assert self.user_id is not None
        return ("user", self.user_id)


def _reason(text: str, what: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise ValidationFailed(f"give the reason for {what}", code="reason_required")
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationFailed(
            f"the reason is longer than {MAX_REASON_CHARS} characters", code="reason_too_long"
        )
    return reason


def active_hold(session: Session, target: HoldTarget) -> LegalHold | None:
    column = LegalHold.room_id if target.room_id is not None else LegalHold.user_id
    return session.scalars(
        select(LegalHold).where(column == target.subject[1], LegalHold.released_at.is_(None))
    ).first()


def _check_exists(session: Session, target: HoldTarget) -> None:
    if target.room_id is not None and session.get(ChatRoom, target.room_id) is None:
        raise NotFound("room not found", code="not_found")
    if target.user_id is not None and session.get(User, target.user_id) is None:
        raise NotFound("user not found", code="not_found")


def place_hold(
    *,
    session: Session,
    actor: Actor | None,
    context: AuditContext,
    target: HoldTarget,
    reason: str,
) -> LegalHold:
    """Hold a room's messages, or everything a user sent. Conflict ``already_held``."""
    _require(session, actor, context, "chat.hold")
    reason = _reason(reason, "the legal hold")
    _check_exists(session, target)
    if active_hold(session, target) is not None:
        raise Conflict("this is already under a legal hold", code="already_held")
    hold = LegalHold(
        room_id=target.room_id,
        user_id=target.user_id,
        reason=reason,
        held_by=None if actor is None else actor.user_id,
        held_at=utcnow(),
    )
    session.add(hold)
    session.flush()
    _record(session, context, actor, target, hold, "chat.hold", reason)
    return hold


def release_hold(
    *,
    session: Session,
    actor: Actor | None,
    context: AuditContext,
    target: HoldTarget,
    reason: str,
) -> LegalHold:
    """Lift the active hold on a room or a user. Conflict ``not_held``."""
    _require(session, actor, context, "chat.release")
    reason = _reason(reason, "lifting the legal hold")
    hold = active_hold(session, target)
    if hold is None:
        raise Conflict("this is not under a legal hold", code="not_held")
    hold.released_at = utcnow()
    hold.released_by = None if actor is None else actor.user_id
    hold.release_reason = reason
    session.flush()
    _record(session, context, actor, target, hold, "chat.release", reason)
    return hold


def _record(
    session: Session,
    context: AuditContext,
    actor: Actor | None,
    target: HoldTarget,
    hold: LegalHold,
    action: str,
    reason: str,
) -> None:
    subject_type, subject_id = target.subject
    audit.append(
        session=session,
        context=context,
        action=action,
        object_type=subject_type,
        object_id=subject_id,
        reason=reason,
        detail={"hold_id": hold.id},
    )
    placed = action == "chat.hold"
    if target.room_id is not None:
        chat_events.changed(
            session,
            ROOM_HELD if placed else ROOM_RELEASED,
            room_id=target.room_id,
            actor_id=None if actor is None else actor.user_id,
            hold_id=hold.id,
        )
    else:
        events.append(
            session,
            kind=USER_HELD if placed else USER_RELEASED,
            subject=("user", subject_id),
            actor_id=None if actor is None else actor.user_id,
            data={"user_id": subject_id, "hold_id": hold.id},
        )


def list_holds(
    *, session: Session, actor: Actor | None, context: AuditContext, active_only: bool = True
) -> list[LegalHold]:
    """The holds on rooms and users (files and folders: ``drive.holds.list_holds``)."""
    _require(session, actor, context, "chat.holds")
    query = (
        select(LegalHold)
        .where(or_(LegalHold.room_id.is_not(None), LegalHold.user_id.is_not(None)))
        .order_by(LegalHold.id)
    )
    if active_only:
        query = query.where(LegalHold.released_at.is_(None))
    return list(session.scalars(query))


# --- the pass -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    purged_messages: int = 0
    rooms: int = 0
    held: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"purged_messages": self.purged_messages, "rooms": self.rooms, "held": self.held}


def _held(session: Session) -> tuple[set[int], set[int]]:
    rows = session.execute(
        select(LegalHold.room_id, LegalHold.user_id).where(LegalHold.released_at.is_(None))
    ).all()
    return (
        {room for room, _ in rows if room is not None},
        {user for _, user in rows if user is not None},
    )


def _due(
    session: Session, kind: str, cutoff: dt.datetime, limit: int
) -> list[tuple[int, int, int | None]]:
    """(event id, room id, sender id) of messages of rooms of ``kind`` sent by ``cutoff`` whose
    text is still there, oldest first."""
    rows = session.execute(
        select(ChatEvent.id, ChatEvent.room_id, ChatEvent.sender_id)
        .join(ChatRoom, ChatRoom.id == ChatEvent.room_id)
        .where(
            ChatRoom.kind == kind,
            ChatEvent.kind.in_(MESSAGE_KINDS),
            ChatEvent.edits_id.is_(None),
            ChatEvent.purged_at.is_(None),
            ChatEvent.created_at <= cutoff,
        )
        .order_by(ChatEvent.created_at, ChatEvent.id)
        .limit(limit)
    ).all()
    return [(int(e), int(r), None if s is None else int(s)) for e, r, s in rows]


def run(
    sessions: sessionmaker[Session],
    *,
    now: dt.datetime | None = None,
    context: AuditContext | None = None,
) -> Outcome:
    """One pass: the text of every message past its kind's rule goes, unless a hold keeps it."""
    now = now or utcnow()
    context = context or AuditContext.system(SYSTEM)
    outcome = Outcome()
    with unit_of_work(sessions) as session:
        rules = [
            (rule.room_kind, rule.keep_messages_days)
            for rule in retention_repo.rules(session, rooms=True)
            if rule.room_kind is not None and rule.keep_messages_days is not None
        ]
        held_rooms, held_users = _held(session)
        by_room: dict[int, list[int]] = {}
        for kind, days in rules:
            for event_id, room_id, sender_id in _due(
                session, kind, now - dt.timedelta(days=days), BATCH
            ):
                if room_id in held_rooms or sender_id in held_users:
                    outcome.held += 1
                    continue
                by_room.setdefault(room_id, []).append(event_id)
    for room_id, event_ids in by_room.items():
        with unit_of_work(sessions) as session:
            # Holds read again in the purge's own transaction: one placed meanwhile wins.
            held_rooms, held_users = _held(session)
            if room_id in held_rooms:
                outcome.held += len(event_ids)
                continue
            rows = session.execute(
                select(ChatEvent.id, ChatEvent.sender_id).where(
                    ChatEvent.id.in_(event_ids), ChatEvent.purged_at.is_(None)
                )
            ).all()
            keep = [int(i) for i, sender in rows if sender in held_users]
            purge = sorted(int(i) for i, sender in rows if sender not in held_users)
            outcome.held += len(keep)
            if purge:
                purge_texts(session, context, room_id, purge, now)
                outcome.purged_messages += len(purge)
                outcome.rooms += 1
    return outcome


def purge_texts(
    session: Session, context: AuditContext, room_id: int, event_ids: list[int], now: dt.datetime
) -> None:
    """Remove the text of these messages and their edits, audited, with one change event."""
    unread.lock_room(session, room_id)
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        targets = or_(ChatEvent.id.in_(chunk), ChatEvent.edits_id.in_(chunk))
        session.execute(
            update(ChatEvent)
            .where(targets, ChatEvent.redacted_at.is_(None))
            .values(redacted_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(ChatEvent)
            .where(targets)
            .values(body=None, purged_at=now)
            .execution_options(synchronize_session=False)
        )
    unread.recount(session, room_id)  # purged messages are redacted: no longer unread
    audit.append(
        session=session,
        context=context,
        action="chat.message.purge",
        object_type="chat_room",
        object_id=room_id,
        detail={"messages": len(event_ids), "event_ids": event_ids[:1000]},
    )
    chat_events.changed(
        session, MESSAGE_PURGED, room_id=room_id, actor_id=None, event_ids=event_ids
    )


def ensure_scheduled(session: Session, *, at: dt.datetime | None = None) -> None:
    """Queue the next pass unless one is already waiting."""
    jobs.enqueue(session, kind=JOB, payload={}, key=JOB, run_after=at or utcnow())


@jobs.handler(JOB)
def run_job(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    with context.session() as session:
        ensure_scheduled(session, at=utcnow() + RUN_EVERY)
    outcome = run(context.instance.sessions)
    if outcome.purged_messages:
        log.info("chat retention: %s", outcome.as_dict())
    return outcome.as_dict()
