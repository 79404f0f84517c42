"""Matrix timeline endpoints over the chat domain's services (docs/matrix.md, "Rooms"): send with
transaction ids, redact, messages, event, context, receipts, read markers and typing. Decisions are
the chat services' (``polaris.access``); the shared request handling is ``room_calls``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from polaris.access.policy import ChatAction
from polaris.access.service import CHAT_ROOM_MISSING
from polaris.chat import attachments, messages
from polaris.chat import events as chat_events
from polaris.chat import rooms as chat_rooms
from polaris.chat.live import hub_of
from polaris.chat.models import REDACTION, ChatEvent, ChatRoom
from polaris.deps import DbSession, get_instance
from polaris.errors import NotFound
from polaris.matrix import settings_store
from polaris.matrix.body import json_object, parse_object, string
from polaris.matrix.caller import Matrix, resolve
from polaris.matrix.models import MatrixMedia
from polaris.matrix.room_calls import (
    ATTACHMENT_TYPES,
    DEFAULT_PAGE,
    ENCRYPTION_REFUSED,
    Call,
    state_rows,
)
from polaris.matrix.rooms import (
    event_key_of,
    event_matrix_id,
    message_kind,
    room_id_of,
)
from polaris.matrix.routing import client, plain_client
from polaris.web import checks
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)


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


@plain_client(router, "/rooms/{room}/send/{kind}/{txn}", "PUT", hot=True)
async def send(request: Request) -> JSONResponse:
    """Send a message; the same transaction id from the same device gives the first send's
    event id and sends nothing again.

    The busiest Matrix write is a plain Starlette route with no ``Matrix`` or session
    dependency: the app-wide checks first (``web.checks``), the body read, then one thread call
    resolves the caller (``caller.resolve``), checks the type and the body and sends, in the
    order the dependency gave (401, then 403 for the type, then 400 for the body). FastAPI's
    dependencies cost a thread hop and a fifth of a send's event-loop CPU."""
    await checks.every_request(request)
    room, kind, txn = (str(request.path_params[name]) for name in ("room", "kind", "txn"))
    raw = await request.body()
    session = get_instance(request).sessions()

    def run() -> str:
        caller = resolve(request, session)
        if kind == "m.room.encrypted":
            raise MatrixError(403, "M_FORBIDDEN", ENCRYPTION_REFUSED)
        if kind != "m.room.message":
            raise MatrixError(403, "M_FORBIDDEN", f"Polaris does not keep events of type {kind}")
        content = parse_object(raw)
        call = Call(caller, request, session)
        # Sends that arrive together share a write transaction (one commit, one WAL fsync).
        return call.together(room, lambda together: _send(together, room, content, txn))

    try:
        return JSONResponse({"event_id": event_matrix_id(await run_in_threadpool(run))})
    finally:
        session.close()


@client(router, "/rooms/{room}/redact/{event}/{txn}", "PUT")
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


@client(router, "/rooms/{room}/messages", "GET")
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
        chunk = call.translator().events([r for r in rows if r is not None], room_kind=found.kind)
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


@client(router, "/rooms/{room}/event/{event}", "GET")
def get_event(
    room: str, event: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room, write=False, event=True):
        found, row = _visible_event(call, room, event)
        return call.translator().event(row, room_kind=found.kind)


@client(router, "/rooms/{room}/context/{event}", "GET")
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
        tr = call.translator()

        def rows(items: list[messages.TimelineItem]) -> list[ChatEvent]:
            loaded = [session.get(ChatEvent, i.id) for i in items]
            return [r for r in loaded if r is not None]

        earlier = rows(before.events)
        later = rows(after.events)
        return {
            "event": tr.event(row, room_kind=found.kind),
            "events_before": list(reversed(tr.events(earlier, room_kind=found.kind))),
            "events_after": tr.events(later, room_kind=found.kind),
            "state": tr.events(state_rows(session, found), room_kind=found.kind),
            "start": f"t{earlier[0].seq if earlier else row.seq}",
            "end": f"t{(later[-1].seq if later else row.seq) + 1}",
        }


# --- receipts, read markers, typing ----------------------------------------------------------


def _mark_read(call: Call, room: str, event: str) -> None:
    found, _ = _visible_event(call, room, event)
    del found
    messages.mark_read(**call.kw(), event_key=event_key_of(event))


@client(router, "/rooms/{room}/receipt/{kind}/{event}", "POST")
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


@client(router, "/rooms/{room}/read_markers", "POST")
async def read_markers(
    room: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    """``m.read`` (and ``m.read.private``) move the receipt; ``m.fully_read`` is kept as the
    room's account data, as Matrix clients read it back, and a ``chat.marker.updated`` stream
    event tells the user's other syncs at once (``matrix.sync``)."""
    body = await json_object(request)
    read = string(body, "m.read", required=False) or string(body, "m.read.private", required=False)
    fully = string(body, "m.fully_read", required=False)
    call = Call(caller, request, session)

    def run() -> None:
        with call.in_room(room, event=True):
            if read is not None:
                _mark_read(call, room, read)
            if fully is not None:
                found, _ = _visible_event(call, room, fully)
                settings_store.put_account_data(
                    session, user_id=call.actor.user_id, data_type="m.fully_read",
                    content={"event_id": fully}, room_id=room, server=True,
                )  # fmt: skip
                chat_events.changed(
                    session, chat_events.MARKER_UPDATED, room_id=found.id,
                    actor_id=call.actor.user_id, user_id=call.actor.user_id,
                )  # fmt: skip

    await run_in_threadpool(run)
    return {}


@client(router, "/rooms/{room}/typing/{who}", "PUT")
async def typing(
    room: str, who: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    """Ephemeral: kept for its timeout by the hub (``chat.live``, ``chat.typing_state``: in
    Redis when configured, else in memory), never in the database."""
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
    instance = request.app.state.instance
    jobs = instance.settings.jobs
    hub = hub_of(request.app.state, instance.sessions, jobs.redis_url, jobs.poll_seconds)
    await run_in_threadpool(hub.set_typing, found, call.actor.user_id, state, timeout)
    return {}
