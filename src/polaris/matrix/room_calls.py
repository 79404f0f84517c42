"""What the Matrix room endpoints share (``api_rooms``, ``api_timeline``): one request's
caller and session with the chat domain's "not in this room" translated into Matrix's, and the
room's state rows (the route decorator is ``routing.client``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

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

if TYPE_CHECKING:
    from polaris.instance import Instance

T = TypeVar("T")

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
        self.instance: Instance = request.app.state.instance
        self.server = server_name(self.instance.settings, request)
        self.me = user_id(caller.caller.actor.username, self.server)
        self.actor = caller.caller.actor
        self.context = caller.caller.context

    def with_session(self, session: Session) -> Call:
        """This call over another session (a group commit's: ``together``)."""
        other = copy.copy(self)
        other.session = session
        return other

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
        with self.translated(room, event=event), transaction(self.session, read_only=not write):
            yield

    def together(self, room: str, work: Callable[[Call], T]) -> T:
        """``work`` in the write transaction that the sends arriving together share
        (``instance.message_commits``, a group commit), with :meth:`in_room`'s answers. The
        call it is given has the group's session; ``work`` must write only rows (it may run
        again after a rollback) and return plain values."""
        with self.translated(room):
            return self.instance.message_commits.run(
                lambda session: work(self.with_session(session))
            )

    @contextmanager
    def translated(self, room: str, *, event: bool = False) -> Iterator[None]:
        """The chat domain's "not in this room" as Matrix's (see :meth:`in_room`)."""
        try:
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
