"""Messenger routes for typing notices, kept out of the database (``chat.typing_state``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from polaris.access.policy import ChatAction
from polaris.chat import live, rooms
from polaris.chat.schemas import (
    TypingRead,
    TypingSet,
)
from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    DbSession,
    ReadCaller,
    get_instance,
)
from polaris.web.params import Id

router = APIRouter()


def typing_hub(request: Request) -> live.Hub:
    """The app's hub, which keeps the typing notices (``chat.live``, ``chat.typing_state``)."""
    instance = get_instance(request)
    jobs = instance.settings.jobs
    return live.hub_of(request.app.state, instance.sessions, jobs.redis_url, jobs.poll_seconds)


@router.put("/rooms/{room_id}/typing", status_code=204)
def set_typing(
    room_id: Id, body: TypingSet, request: Request, caller: CurrentCaller, session: DbSession
) -> Response:
    """Say the caller is typing (for ``timeout_ms``) or has stopped: kept out of the database."""
    with transaction(session, read_only=True):
        rooms.require_room(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            action=ChatAction.SEND,
        )
    typing_hub(request).set_typing(room_id, caller.actor.user_id, body.typing, body.timeout_ms)
    return Response(status_code=204)


@router.get("/rooms/{room_id}/typing", response_model=TypingRead)
def get_typing(room_id: Id, request: Request, caller: ReadCaller, session: DbSession) -> TypingRead:
    with transaction(session, read_only=True):
        rooms.require_room(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            action=ChatAction.READ,
        )
    others = [u for u in typing_hub(request).typing(room_id) if u != caller.actor.user_id]
    return TypingRead(user_ids=others)
