"""Matrix room endpoints over the chat domain's services (docs/matrix.md, "Rooms").

Every decision is the chat services' (``polaris.access.require_chat``, audited there): these
routes translate ids and bodies (``matrix.rooms``) and answers. A room that does not exist and
one the caller is not in answer alike, as Synapse answers a room one is not in: ``403
M_FORBIDDEN`` "User … not in room …"; an event one may not see, ``404 M_NOT_FOUND``.
Encryption is refused (``m.room.encryption``, ``m.room.encrypted``): official messages must stay
archivable, searchable and auditable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris.access.policy import ChatAction
from polaris.access.service import CHAT_ROOM_MISSING
from polaris.chat import attachments, messages
from polaris.chat import rooms as chat_rooms
from polaris.chat.models import JOIN, REDACTION, STATE, ChatEvent, ChatMember, ChatRoom
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.errors import Conflict, NotFound
from polaris.identity.models import User
from polaris.matrix import settings_store
from polaris.matrix.api_room_media import router as media_router
from polaris.matrix.body import json_object, string
from polaris.matrix.caller import Matrix, MatrixCaller
from polaris.matrix.ids import server_name, user_id, username_of
from polaris.matrix.live import live_of
from polaris.matrix.models import MatrixMedia
from polaris.matrix.rooms import (
    Translator,
    event_key_of,
    event_matrix_id,
    event_not_found,
    message_kind,
    not_in_room,
    room_id_of,
    room_matrix_id,
)
from polaris.matrix.routing import CLIENT_PREFIXES
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)
Endpoint = Callable[..., Any]

ENCRYPTION_REFUSED = (
    "end-to-end encryption is turned off on this server: official messages must stay "
    "archivable, searchable and auditable"
)
ATTACHMENT_TYPES = ("m.file", "m.image", "m.video", "m.audio")
MAX_INVITES = 100
DEFAULT_PAGE = 10


def client(path: str, *methods: str) -> Callable[[Endpoint], Endpoint]:
    def register(endpoint: Endpoint) -> Endpoint:
        for prefix in CLIENT_PREFIXES:
            router.add_api_route(prefix + path, endpoint, methods=list(methods))
        return endpoint

    return register


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


# --- creating and joining rooms --------------------------------------------------------------


def _refuse_encryption(initial_state: Any) -> None:
    if initial_state is None:
        return
    if not isinstance(initial_state, list) or not all(isinstance(e, dict) for e in initial_state):
        raise MatrixError(400, "M_BAD_JSON", "initial_state must be a list of events")
    for event in initial_state:
        if event.get("type") == "m.room.encryption":
            raise MatrixError(403, "M_FORBIDDEN", ENCRYPTION_REFUSED)


@client("/createRoom", "POST")
async def create_room(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    """``private_chat``/``trusted_private_chat`` (and no preset) make a group; ``is_direct``
    with one invitee the pair's direct room. Public rooms and aliases do not exist here."""
    body = await json_object(request, empty_ok=True)
    name = string(body, "name", required=False)
    topic = string(body, "topic", required=False)
    preset = string(body, "preset", required=False)
    if preset not in (None, "private_chat", "trusted_private_chat"):
        raise MatrixError(400, "M_INVALID_PARAM", "only private rooms exist on this server")
    if body.get("visibility") not in (None, "private"):
        raise MatrixError(400, "M_INVALID_PARAM", "rooms cannot be published in a directory")
    if body.get("room_alias_name") is not None:
        raise MatrixError(400, "M_INVALID_PARAM", "Polaris has no room aliases")
    _refuse_encryption(body.get("initial_state"))
    invites = body.get("invite", [])
    if not isinstance(invites, list) or not all(isinstance(i, str) for i in invites):
        raise MatrixError(400, "M_BAD_JSON", "invite must be a list of user ids")
    if len(invites) > MAX_INVITES:
        raise MatrixError(400, "M_INVALID_PARAM", f"at most {MAX_INVITES} invitees")
    direct = body.get("is_direct") is True
    call = Call(caller, request, session)

    def create() -> int:
        with transaction(session):
            ids = tuple(dict.fromkeys(call.user_db_id(i) for i in invites))
            if direct and len(ids) == 1:
                return chat_rooms.create_direct(**call.kw(), other_user_id=ids[0]).id
            chosen = (
                name
                or ", ".join(
                    [caller.caller.user.username, *(i.lstrip("@").split(":")[0] for i in invites)]
                )[:255]
            )
            room = chat_rooms.create_group(
                **call.kw(), name=chosen, topic=topic, invite_user_ids=ids
            )
            return room.id

    room_id = await run_in_threadpool(create)
    return {"room_id": room_matrix_id(room_id, call.server)}


@client("/rooms/{room}/invite", "POST")
async def invite(room: str, request: Request, caller: Matrix, session: DbSession) -> Any:
    body = await json_object(request)
    target = string(body, "user_id")
    assert target is not None
    call = Call(caller, request, session)

    def run() -> None:
        with call.in_room(room):
            chat_rooms.invite(
                **call.kw(), room_id=room_id_of(room, call.server),
                user_id=call.user_db_id(target),
            )  # fmt: skip

    await run_in_threadpool(run)
    return {}


def _join(call: Call, room: str) -> dict[str, str]:
    if room.startswith("#"):
        raise MatrixError(404, "M_NOT_FOUND", "Polaris has no room aliases: join by room id")
    with call.in_room(room):
        chat_rooms.join(**call.kw(), room_id=room_id_of(room, call.server))
    return {"room_id": room}


@client("/rooms/{room}/join", "POST")
def join(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, str]:
    return _join(Call(caller, request, session), room)


@client("/join/{room}", "POST")
def join_any(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, str]:
    return _join(Call(caller, request, session), room)


@client("/rooms/{room}/leave", "POST")
def leave(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room):
        chat_rooms.leave(**call.kw(), room_id=room_id_of(room, call.server))
    return {}


@client("/rooms/{room}/forget", "POST")
def forget(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    """Nothing to forget: the record of a room is kept for inquiries."""
    del room, request, caller, session
    return {}


@client("/joined_rooms", "GET")
def joined_rooms(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    call = Call(caller, request, session)
    with transaction(session, read_only=True):
        views = chat_rooms.my_rooms(session=session, actor=call.actor)
    return {
        "joined_rooms": [
            room_matrix_id(v.room.id, call.server) for v in views if v.membership == JOIN
        ]
    }


# --- members and state -----------------------------------------------------------------------


def _state_rows(session: Session, room: ChatRoom) -> list[ChatEvent]:
    rows = session.scalars(
        select(ChatEvent)
        .where(ChatEvent.room_id == room.id, ChatEvent.kind == STATE)
        .order_by(ChatEvent.seq)
    )
    latest: dict[tuple[str | None, int | None], ChatEvent] = {}
    for row in rows:
        latest[(row.state_type, row.state_key)] = row
    return sorted(latest.values(), key=lambda r: r.seq)


@client("/rooms/{room}/members", "GET")
def members(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        found = call.require(room)
        rows = [r for r in _state_rows(session, found) if r.state_type == "member"]
        chunk = Translator(session, call.server).events(rows, room_kind=found.kind)
    return {"chunk": chunk}


@client("/rooms/{room}/joined_members", "GET")
def joined_members(
    room: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        found = call.require(room)
        tr = Translator(session, call.server)
        ids = session.scalars(
            select(ChatMember.user_id).where(
                ChatMember.room_id == found.id, ChatMember.membership == JOIN
            )
        ).all()
        tr.load_users(ids)
        return {"joined": {tr.user(i): {} for i in ids}}


@client("/rooms/{room}/state", "GET")
def room_state(room: str, request: Request, caller: Matrix, session: DbSession) -> Any:
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        found = call.require(room)
        return Translator(session, call.server).events(
            _state_rows(session, found), room_kind=found.kind
        )


def _one_state(call: Call, room: str, kind: str, key: str) -> dict[str, Any]:
    with call.in_room(room, write=False):
        found = call.require(room)
        events = Translator(call.session, call.server).events(
            _state_rows(call.session, found), room_kind=found.kind
        )
    for event in events:
        if event["type"] == kind and event.get("state_key") == key:
            return dict(event["content"])
    raise MatrixError(404, "M_NOT_FOUND", "Event not found.")


@client("/rooms/{room}/state/{kind}/", "GET")
@client("/rooms/{room}/state/{kind}", "GET")
def state_event(
    room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    return _one_state(Call(caller, request, session), room, kind, "")


@client("/rooms/{room}/state/{kind}/{key}", "GET")
def state_event_key(
    room: str, kind: str, key: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    return _one_state(Call(caller, request, session), room, kind, key)


async def _put_state(call: Call, request: Request, room: str, kind: str, key: str) -> Any:
    if kind == "m.room.encryption":
        raise MatrixError(403, "M_FORBIDDEN", ENCRYPTION_REFUSED)
    if kind not in ("m.room.name", "m.room.topic") or key != "":
        raise MatrixError(
            403, "M_FORBIDDEN", "only a room's name and topic are set through this API"
        )
    body = await json_object(request)
    field = "name" if kind == "m.room.name" else "topic"
    value = string(body, field, required=field == "name")

    def run() -> str:
        with call.in_room(room):
            found = chat_rooms.rename(
                **call.kw(),
                room_id=room_id_of(room, call.server),
                name=value if field == "name" else None,
                topic=(value or "") if field == "topic" else None,
            )
            key_of = call.session.scalar(
                select(ChatEvent.event_key).where(
                    ChatEvent.room_id == found.id, ChatEvent.seq == found.last_seq
                )
            )
            assert key_of is not None
            return event_matrix_id(key_of)

    return {"event_id": await run_in_threadpool(run)}


@client("/rooms/{room}/state/{kind}/", "PUT")
@client("/rooms/{room}/state/{kind}", "PUT")
async def put_state(
    room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> Any:
    return await _put_state(Call(caller, request, session), request, room, kind, "")


@client("/rooms/{room}/state/{kind}/{key}", "PUT")
async def put_state_key(
    room: str, kind: str, key: str, request: Request, caller: Matrix, session: DbSession
) -> Any:
    return await _put_state(Call(caller, request, session), request, room, kind, key)


# --- sending ---------------------------------------------------------------------------------


def _relation(content: dict[str, Any]) -> tuple[str | None, str | None]:
    """(event key replied to, event key replaced) of a message's ``m.relates_to``."""
    relates = content.get("m.relates_to")
    if relates is None:
        return None, None
    if not isinstance(relates, dict):
        raise MatrixError(400, "M_BAD_JSON", "m.relates_to must be an object")
    if relates.get("rel_type") == "m.replace":
        target = relates.get("event_id")
        if not isinstance(target, str):
            raise MatrixError(400, "M_BAD_JSON", "m.replace needs an event_id")
        return None, event_key_of(target)
    reply = relates.get("m.in_reply_to")
    if isinstance(reply, dict) and isinstance(reply.get("event_id"), str):
        return event_key_of(reply["event_id"]), None
    return None, None


def _send(call: Call, room: str, content: dict[str, Any], txn: str) -> str:
    msgtype = string(content, "msgtype")
    text = string(content, "body")
    assert msgtype is not None and text is not None
    reply_to, replaces = _relation(content)
    device = call.caller.device_id
    room_id = room_id_of(room, call.server)
    if msgtype in ATTACHMENT_TYPES:
        url = string(content, "url")
        assert url is not None
        prefix = f"mxc://{call.server}/"
        media = (
            call.session.get(MatrixMedia, url[len(prefix) :]) if url.startswith(prefix) else None
        )
        if media is None:
            raise MatrixError(404, "M_NOT_FOUND", "media not found")
        event = attachments.send_attachment(
            **call.kw(), room_id=room_id, node_id=media.node_id, caption=text,
            device_id=device, txn_id=txn,
        )  # fmt: skip
        return event.event_key
    kind = message_kind(msgtype)
    if kind is None:
        raise MatrixError(400, "M_BAD_JSON", f"msgtype {msgtype} is not supported")
    if replaces is not None:
        new = content.get("m.new_content")
        new_body = new.get("body") if isinstance(new, dict) else None
        if not isinstance(new_body, str):
            raise MatrixError(400, "M_BAD_JSON", "an edit needs m.new_content.body")
        _visible_event(call, room, event_matrix_id(replaces))  # the edited message is here
        event = messages.edit(
            **call.kw(), event_key=replaces, body=new_body, device_id=device, txn_id=txn
        )
        return event.event_key
    event = messages.send_text(
        **call.kw(), room_id=room_id, body=text, kind=kind, reply_to=reply_to,
        device_id=device, txn_id=txn,
    )  # fmt: skip
    return event.event_key


@client("/rooms/{room}/send/{kind}/{txn}", "PUT")
async def send(
    room: str, kind: str, txn: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, str]:
    """Send a message; the same transaction id from the same device gives the first send's
    event id and sends nothing again."""
    if kind == "m.room.encrypted":
        raise MatrixError(403, "M_FORBIDDEN", ENCRYPTION_REFUSED)
    if kind != "m.room.message":
        raise MatrixError(403, "M_FORBIDDEN", f"Polaris does not keep events of type {kind}")
    content = await json_object(request)
    call = Call(caller, request, session)

    def run() -> str:
        with call.in_room(room):
            return _send(call, room, content, txn)

    return {"event_id": event_matrix_id(await run_in_threadpool(run))}


@client("/rooms/{room}/redact/{event}/{txn}", "PUT")
async def redact(
    room: str, event: str, txn: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, str]:
    await json_object(request, empty_ok=True)
    call = Call(caller, request, session)
    key = event_key_of(event)
    del txn  # a repeat finds the message deleted, and gets the redaction made the first time

    def run() -> str:
        with call.in_room(room, event=True):
            target = session.scalars(select(ChatEvent).where(ChatEvent.event_key == key)).first()
            if target is not None and target.redacted_at is not None:
                earlier = session.scalars(
                    select(ChatEvent).where(
                        ChatEvent.kind == REDACTION,
                        ChatEvent.redacts_id == target.id,
                        ChatEvent.sender_id == call.actor.user_id,
                    )
                ).first()
                if earlier is not None:
                    return earlier.event_key
            if target is None or target.room_id != room_id_of(room, call.server):
                raise NotFound(CHAT_ROOM_MISSING)
            return messages.redact(**call.kw(), event_key=key).event_key

    return {"event_id": event_matrix_id(await run_in_threadpool(run))}


# --- reading the timeline --------------------------------------------------------------------


def _seq_of(token: str | None) -> int | None:
    if token is None or not token.startswith("t") or not token[1:].isdigit():
        return None
    return min(int(token[1:]), 2**31 - 1)


@client("/rooms/{room}/messages", "GET")
def room_messages(
    room: str,
    request: Request,
    caller: Matrix,
    session: DbSession,
    from_token: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    to: Annotated[str | None, Query(max_length=64)] = None,
    dir: Annotated[str, Query(pattern="^[bf]$")] = "b",
    limit: Annotated[int, Query(ge=0, le=10_000)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    """A page of the timeline. Tokens are ``t<seq>``: backwards, the events before it; forwards,
    it and those after. A sync token (or none) starts from the newest event."""
    call = Call(caller, request, session)
    size = max(1, min(limit, 200))
    start = _seq_of(from_token)
    stop = _seq_of(to)
    with call.in_room(room, write=False):
        found = call.require(room)
        if dir == "b":
            page = messages.history(**call.kw(), room_id=found.id, before=start, limit=size)
            items = list(reversed(page.events))
            if stop is not None:
                items = [i for i in items if i.seq >= stop]
            end = f"t{items[-1].seq}" if items and page.more else None
        else:
            after = (start - 1) if start is not None else found.last_seq
            page = messages.history(**call.kw(), room_id=found.id, after=after, limit=size)
            items = list(page.events)
            if stop is not None:
                items = [i for i in items if i.seq < stop]
            end = f"t{items[-1].seq + 1}" if items else None
        rows = [session.get(ChatEvent, i.id) for i in items]
        chunk = Translator(session, call.server).events(
            [r for r in rows if r is not None], room_kind=found.kind
        )
    answer: dict[str, Any] = {"chunk": chunk, "start": from_token or f"t{found.last_seq + 1}"}
    if end is not None:
        answer["end"] = end
    return answer


def _visible_event(call: Call, room: str, event: str) -> tuple[ChatRoom, ChatEvent]:
    found, row = chat_rooms.require_event(
        **call.kw(), event_key=event_key_of(event), action=ChatAction.READ
    )
    if found.id != room_id_of(room, call.server):
        raise NotFound(CHAT_ROOM_MISSING)
    return found, row


@client("/rooms/{room}/event/{event}", "GET")
def get_event(
    room: str, event: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room, write=False, event=True):
        found, row = _visible_event(call, room, event)
        return Translator(session, call.server).event(row, room_kind=found.kind)


@client("/rooms/{room}/context/{event}", "GET")
def event_context(
    room: str,
    event: str,
    request: Request,
    caller: Matrix,
    session: DbSession,
    limit: Annotated[int, Query(ge=0, le=10_000)] = DEFAULT_PAGE,
) -> dict[str, Any]:
    call = Call(caller, request, session)
    half = max(1, min(limit, 200) // 2)
    with call.in_room(room, write=False, event=True):
        found, row = _visible_event(call, room, event)
        before = messages.history(**call.kw(), room_id=found.id, before=row.seq, limit=half)
        after = messages.history(**call.kw(), room_id=found.id, after=row.seq, limit=half)
        tr = Translator(session, call.server)

        def rows(items: list[messages.TimelineItem]) -> list[ChatEvent]:
            loaded = [session.get(ChatEvent, i.id) for i in items]
            return [r for r in loaded if r is not None]

        earlier = rows(before.events)
        later = rows(after.events)
        return {
            "event": tr.event(row, room_kind=found.kind),
            "events_before": list(reversed(tr.events(earlier, room_kind=found.kind))),
            "events_after": tr.events(later, room_kind=found.kind),
            "state": tr.events(_state_rows(session, found), room_kind=found.kind),
            "start": f"t{earlier[0].seq if earlier else row.seq}",
            "end": f"t{(later[-1].seq if later else row.seq) + 1}",
        }


# --- receipts, read markers, typing ----------------------------------------------------------


def _mark_read(call: Call, room: str, event: str) -> None:
    found, _ = _visible_event(call, room, event)
    del found
    messages.mark_read(**call.kw(), event_key=event_key_of(event))


@client("/rooms/{room}/receipt/{kind}/{event}", "POST")
async def receipt(
    room: str, kind: str, event: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    await json_object(request, empty_ok=True)
    if kind not in ("m.read", "m.read.private", "m.fully_read"):
        raise MatrixError(400, "M_INVALID_PARAM", "unknown receipt type")
    call = Call(caller, request, session)

    def run() -> None:
        with call.in_room(room, event=True):
            _mark_read(call, room, event)

    await run_in_threadpool(run)
    return {}


@client("/rooms/{room}/read_markers", "POST")
async def read_markers(
    room: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    """``m.read`` (and ``m.read.private``) move the receipt; ``m.fully_read`` is kept as the
    room's account data, as Matrix clients read it back."""
    body = await json_object(request)
    read = string(body, "m.read", required=False) or string(body, "m.read.private", required=False)
    fully = string(body, "m.fully_read", required=False)
    call = Call(caller, request, session)

    def run() -> None:
        with call.in_room(room, event=True):
            if read is not None:
                _mark_read(call, room, read)
            if fully is not None:
                _visible_event(call, room, fully)
                settings_store.put_account_data(
                    session, user_id=call.actor.user_id, data_type="m.fully_read",
                    content={"event_id": fully}, room_id=room, server=True,
                )  # fmt: skip

    await run_in_threadpool(run)
    return {}


@client("/rooms/{room}/typing/{who}", "PUT")
async def typing(
    room: str, who: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    """Ephemeral: kept in memory for its timeout (``matrix.live``), never in the database."""
    body = await json_object(request)
    state = body.get("typing")
    timeout = body.get("timeout", 30_000)
    if not isinstance(state, bool):
        raise MatrixError(400, "M_BAD_JSON", "typing must be true or false")
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise MatrixError(400, "M_BAD_JSON", "timeout must be an integer")
    call = Call(caller, request, session)
    if who != call.me:
        raise MatrixError(403, "M_FORBIDDEN", "Cannot set another user's typing state")

    def run() -> int:
        with call.in_room(room, write=False):
            return call.require(room, ChatAction.SEND).id

    found = await run_in_threadpool(run)
    live_of(request.app).set_typing(found, call.actor.user_id, state, timeout)
    return {}


# --- room account data -----------------------------------------------------------------------


def _own(call: Call, who: str) -> None:
    if who != call.me:
        raise MatrixError(403, "M_FORBIDDEN", "cannot use another user's account data")


@client("/user/{who}/rooms/{room}/account_data/{kind}", "GET")
def get_room_account_data(
    who: str, room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    call = Call(caller, request, session)
    _own(call, who)
    with call.in_room(room, write=False):
        call.require(room)
        return settings_store.get_account_data(
            session, user_id=call.actor.user_id, data_type=kind, room_id=room
        )


@client("/user/{who}/rooms/{room}/account_data/{kind}", "PUT")
async def put_room_account_data(
    who: str, room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    call = Call(caller, request, session)
    _own(call, who)
    content = await json_object(request)

    def run() -> None:
        with call.in_room(room):
            call.require(room)
            settings_store.put_account_data(
                session, user_id=call.actor.user_id, data_type=kind, content=content,
                room_id=room,
            )  # fmt: skip

    await run_in_threadpool(run)
    return {}


router.include_router(media_router)  # registered with the rooms, before matrix.api's routes
