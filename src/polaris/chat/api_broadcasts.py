"""Messenger routes for broadcast messages: acknowledge, the acknowledgement table by unit, and
the reminder to those who have not acknowledged."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.chat import broadcasts
from polaris.chat.present import user_names
from polaris.chat.schemas import (
    Acknowledged,
    MemberRead,
    Reminded,
    UnitAcksRead,
)
from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    DbSession,
)
from polaris.identity.models import Unit

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


def ack_rows(session: Session, table: list[broadcasts.UnitAcknowledgements]) -> list[UnitAcksRead]:
    units = dict(
        session.execute(
            select(Unit.id, Unit.name).where(Unit.id.in_([t.unit_id for t in table]))
        ).all()
    )
    names = user_names(session, [u for t in table for u in (*t.acknowledged, *t.pending)])

    def people(ids: list[int]) -> list[MemberRead]:
        return [
            MemberRead(user_id=i, name=names.get(i, ""), membership="join", role="member")
            for i in ids
        ]

    return [
        UnitAcksRead(
            unit_id=t.unit_id,
            unit_name=units.get(t.unit_id, ""),
            acknowledged=people(t.acknowledged),
            pending=people(t.pending),
        )
        for t in table
    ]


@router.post("/events/{event_key}/remind", response_model=Reminded)
def remind(event_key: str, caller: CurrentCaller, session: DbSession) -> Reminded:
    """Remind everyone who has not acknowledged yet; their ids."""
    with transaction(session):
        user_ids = broadcasts.remind(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return Reminded(reminded=user_ids)
