"""Messenger routes for attachments: a drive file sent into a room, and its download."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from polaris.chat import attachments, files
from polaris.chat.present import present_one
from polaris.chat.schemas import (
    AttachmentSend,
    EventRead,
)
from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    CurrentInstance,
    DbSession,
)
from polaris.web.params import Id

router = APIRouter()


@router.post("/rooms/{room_id}/attachments", response_model=EventRead, status_code=201)
def send_attachment(
    room_id: Id, body: AttachmentSend, caller: CurrentCaller, session: DbSession
) -> EventRead:
    """Send the drive file ``node_id`` into the room (shared with its members by the drive)."""
    with transaction(session):
        row = attachments.send_attachment(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            node_id=body.node_id,
            caption=body.caption,
            device_id=body.device_id,
            txn_id=body.txn_id,
        )
        return present_one(session, row, caller.actor.user_id)


@router.get("/events/{event_key}/attachment", response_class=StreamingResponse)
def download_attachment(
    event_key: str, caller: CurrentCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    """The file of an attachment, authorised by the room and audited; a missing event and one
    in a room the caller is not in answer alike (404)."""
    return files.download(session, caller.actor, caller.context, instance, event_key)
