"""Messenger routes for broadcast messages: acknowledge, the acknowledgement table by unit, and
the reminder to those who have not acknowledged."""

from __future__ import annotations

from fastapi import APIRouter

from polaris.chat import broadcasts
from polaris.chat.schemas import (
    Acknowledged,
    Reminded,
    UnitAcksRead,
)
from polaris.chat.summaries import ack_rows
from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    DbSession,
)

router = APIRouter()


@router.post("/events/{event_key}/acknowledge", response_model=Acknowledged)
def acknowledge(event_key: str, caller: CurrentCaller, session: DbSession) -> Acknowledged:
    with transaction(session):
        done = broadcasts.acknowledge(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return Acknowledged(acknowledged=done)


@router.get("/events/{event_key}/acknowledgements", response_model=list[UnitAcksRead])
def acknowledgements(
    event_key: str, caller: CurrentCaller, session: DbSession
) -> list[UnitAcksRead]:
    """Who has and who has not acknowledged a broadcast message, by unit (its moderators)."""
    with transaction(session, read_only=True):
        table = broadcasts.acknowledgements(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return ack_rows(session, table)


@router.post("/events/{event_key}/remind", response_model=Reminded)
def remind(event_key: str, caller: CurrentCaller, session: DbSession) -> Reminded:
    """Remind everyone who has not acknowledged yet; their ids."""
    with transaction(session):
        user_ids = broadcasts.remind(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return Reminded(reminded=user_ids)
