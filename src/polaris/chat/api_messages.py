"""Messenger routes for messages: send, edit, delete, history and read receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from polaris.chat import messages
from polaris.chat.models import NOTICE, TEXT
from polaris.chat.present import present, present_one
from polaris.chat.schemas import (
    EventRead,
    HistoryRead,
    MessageEdit,
    MessageSend,
    ReceiptRead,
)
from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    DbSession,
    ReadCaller,
)
from polaris.web.params import Id

router = APIRouter()


@router.post("/rooms/{room_id}/messages", response_model=EventRead, status_code=201)
def send(room_id: Id, body: MessageSend, caller: CurrentCaller, session: DbSession) -> EventRead:
    """Send a text (``notice``: a notice), optionally replying to ``reply_to`` (an event key).
    A repeated ``txn_id`` (with the same ``device_id``) returns the first send's event."""
    with transaction(session):
        row = messages.send_text(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            body=body.body,
            kind=NOTICE if body.notice else TEXT,
            reply_to=body.reply_to,
            device_id=body.device_id,
            txn_id=body.txn_id,
        )
        return present_one(session, row, caller.actor.user_id)


@router.patch("/events/{event_key}", response_model=EventRead)
def edit(event_key: str, body: MessageEdit, caller: CurrentCaller, session: DbSession) -> EventRead:
    """Replace the text of one's own message (a new event naming it)."""
    with transaction(session):
        row = messages.edit(
            session=session,
            actor=caller.actor,
            context=caller.context,
            event_key=event_key,
            body=body.body,
            device_id=body.device_id,
            txn_id=body.txn_id,
        )
        return present_one(session, row, caller.actor.user_id)


@router.delete("/events/{event_key}", response_model=EventRead)
def delete(event_key: str, caller: CurrentCaller, session: DbSession) -> EventRead:
    """Delete a message (the sender within the window, moderators always); the redaction."""
    with transaction(session):
        row = messages.redact(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return present_one(session, row, caller.actor.user_id)


@router.get("/rooms/{room_id}/history", response_model=HistoryRead)
def history(
    room_id: Id,
    caller: ReadCaller,
    session: DbSession,
    before: Annotated[int | None, Query(ge=1, le=2**31)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**31)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryRead:
    """A page of the timeline by ``seq``: the latest ``limit`` events before ``before`` (or the
    latest of all), or the first after ``after``; ``more``: there are further ones that way."""
    with transaction(session, read_only=True):
        page = messages.history(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            before=before,
            after=after,
            limit=limit,
        )
        shown, names = present(session, page.events, caller.actor.user_id)
        return HistoryRead(events=shown, more=page.more, users=names)


@router.post("/events/{event_key}/read", response_model=ReceiptRead)
def mark_read(event_key: str, caller: CurrentCaller, session: DbSession) -> ReceiptRead:
    """The caller has read the room up to this event (a receipt never moves back)."""
    with transaction(session):
        receipt = messages.mark_read(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return ReceiptRead(room_id=receipt.room_id, up_to_seq=receipt.up_to_seq)
