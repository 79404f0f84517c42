"""Messenger route for an inquiry: an administrator exports a room's whole record
(``chat.export``), with a reason. Anyone else is answered as for a missing room."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Security
from fastapi.responses import Response
from pydantic import BaseModel, Field

from polaris.access.policy import Need
from polaris.chat import export
from polaris.db.uow import transaction
from polaris.deps import Caller, DbSession, get_caller
from polaris.web.params import Id

router = APIRouter()


class ExportRequest(BaseModel):
    """Why the record is taken (audited), and its shape: ``json`` or a ``text`` transcript."""

    reason: str = Field(max_length=2000)
    format: Literal["json", "text"] = "json"
    #: The language of the transcript's labels (the JSON's keys are the same in both).
    language: Literal["en", "hi"] = "en"


@router.post(
    "/rooms/{room_id}/export",
    responses={200: {"content": {"application/json": {}, "text/plain": {}}}},
)
def export_room(
    room_id: Id,
    body: ExportRequest,
    caller: Annotated[Caller, Security(get_caller, scopes=[Need.ALL.value])],
    session: DbSession,
) -> Response:
    """The room's record: every event with its text (edited and deleted ones too), members and
    membership changes, attachments with their drive node, version and SHA-256; IST times.
    Administrators only (a session, or a token of scope ``all``); anyone else is answered as
    for a missing room."""
    with transaction(session):
        record = export.export_room(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            reason=body.reason,
            fmt=body.format,
        )
    media = "application/json" if body.format == "json" else "text/plain; charset=utf-8"
    filename = f"room-{room_id}.{'json' if body.format == 'json' else 'txt'}"
    return Response(
        export.render(record, body.format, body.language),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
