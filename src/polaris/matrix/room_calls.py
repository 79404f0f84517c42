"""What the Matrix room endpoints share (``api_rooms``, ``api_timeline``): one request's
caller and session with the chat domain's "not in this room" translated into Matrix's, and the
room's state rows (the route decorator is ``routing.client``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import ChatAction
from polaris.access.service import CHAT_ROOM_MISSING
from polaris.chat import rooms as chat_rooms
from polaris.chat.models import STATE, ChatEvent, ChatRoom
from polaris.db.uow import transaction
from polaris.errors import Conflict, NotFound
from polaris.identity.models import User
from polaris.matrix.caller import MatrixCaller
from polaris.matrix.ids import server_name, user_id, username_of
from polaris.matrix.rooms import (
    Translator,
    event_not_found,
    not_in_room,
    room_id_of,
)
from polaris.web.matrix_errors import MatrixError

ENCRYPTION_REFUSED = (
    "end-to-end encryption is turned off on this server: official messages must stay "
    "archivable, searchable and auditable"
)
ATTACHMENT_TYPES = ("m.file", "m.image", "m.video", "m.audio")
MAX_INVITES = 100
DEFAULT_PAGE = 10


class Call:
    """One request's caller, server name and database session, with the translation of the
    chat domain's "not in this room" into Matrix's."""

    def __init__(self, caller: MatrixCaller, request: Request, session: Session) -> None:
        self.caller = caller
        self.session = session
        self.server = server_name(request.app.state.instance.settings, request)
        self.me = user_id(caller.caller.user.username, self.server)
        self.actor = caller.caller.actor
        self.context = caller.caller.context

    def translator(self) -> Translator:
        """A translator for this request: the caller's device sees its sends' transaction ids."""
        return Translator(
            self.session, self.server, device=(self.actor.user_id, self.caller.device_id)
        )

    def kw(self) -> dict[str, Any]:
        return {"session": self.session, "actor": self.actor, "context": self.context}

    @contextmanager
    def in_room(self, room: str, *, write: bool = True, event: bool = False) -> Iterator[None]:
        """A transaction in which a missing room (or event) answers as Synapse's not-in-room
        (or event-not-found), after the denial's audit."""
        try:
            with transaction(self.session, read_only=not write):
                yield
        except NotFound as error:
            if error.detail == CHAT_ROOM_MISSING:
                raise (event_not_found() if event else not_in_room(self.me, room)) from None
            raise
        except Conflict as error:
            if error.code == "chat_txn_reused":
                raise MatrixError(400, "M_INVALID_PARAM", error.detail) from None
            raise

    def require(self, room: str, action: ChatAction = ChatAction.READ) -> ChatRoom:
        return chat_rooms.require_room(
            **self.kw(), room_id=room_id_of(room, self.server), action=action
        )

    def user_db_id(self, matrix_id: str) -> int:
        name = username_of(matrix_id, self.server) if matrix_id.startswith("@") else None
        found = self.session.scalar(select(User.id).where(User.username == name)) if name else None
        if found is None:
            raise MatrixError(404, "M_NOT_FOUND", "unknown user")
        return found


def state_rows(session: Session, room: ChatRoom) -> list[ChatEvent]:
    rows = session.scalars(
        select(ChatEvent)
        .where(ChatEvent.room_id == room.id, ChatEvent.kind == STATE)
        .order_by(ChatEvent.seq)
    )
    latest: dict[tuple[str | None, int | None], ChatEvent] = {}
    for row in rows:
        latest[(row.state_type, row.state_key)] = row
    return sorted(latest.values(), key=lambda r: r.seq)
