"""JSON routes of the messenger (``/api/v1/chat/...``): rooms, membership, messages, receipts,
broadcast acknowledgements, attachments, typing, and the sync (long-poll and WebSocket).

Routes are thin: read input, run one service call in a transaction, shape the answer. Every
decision is the chat services' (``polaris.access`` through ``chat.rooms.require_room``). The
sync reads the change stream (``chat.sync``) and waits on the process's hub (``chat.live``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris import events
from polaris.access import gate
from polaris.access.policy import Actor, ChatAction, Need
from polaris.chat import attachments, broadcasts, files, live, messages, rooms, sync
from polaris.chat.messages import TimelineItem
from polaris.chat.models import NOTICE, TEXT, ChatEvent
from polaris.chat.present import event_keys, present, user_names
from polaris.chat.schemas import (
    Acknowledged,
    AttachmentSend,
    BroadcastCreate,
    DirectCreate,
    EventRead,
    GroupCreate,
    HistoryRead,
    Kick,
    MemberRead,
    MessageEdit,
    MessageSend,
    ReceiptRead,
    Reminded,
    RoomList,
    RoomRead,
    SyncEventRead,
    SyncRead,
    TypingRead,
    TypingSet,
    UnitAcksRead,
    UserRef,
)
from polaris.chat.typing_state import TypingBoard
from polaris.db.uow import transaction
from polaris.deps import (
    SESSION_COOKIE,
    CurrentCaller,
    CurrentInstance,
    DbSession,
    ReadCaller,
    get_instance,
    session_caller,
)
from polaris.errors import PolarisError
from polaris.identity.actors import RequestInfo
from polaris.identity.models import Unit
from polaris.instance import Instance
from polaris.web.params import Id, Position

router = APIRouter(prefix="/chat", tags=["chat"])

#: Longest a long-poll waits (ms) and what it waits without ``timeout``.
MAX_TIMEOUT_MS = 60_000
DEFAULT_TIMEOUT_MS = 30_000
#: How long a sync waits for events that committed before it to be given their positions.
SETTLE_SECONDS = 5.0
EventKey = Annotated[str, Query(min_length=1, max_length=64)]


# -- rooms ------------------------------------------------------------------------------------


def room_list(session: Session, actor: Actor) -> RoomList:
    """The caller's rooms with unread counts, and the stream position they are true at (read
    first: a change after it is in the sync from it)."""
    position = events.head_position(session)
    views = rooms.my_rooms(session=session, actor=actor)
    unread = messages.unread_counts(session=session, actor=actor)
    shown = [RoomRead.of(view, unread.get(view.room.id, 0)) for view in views]
    shown.sort(key=lambda room: (-room.last_seq, room.id))
    return RoomList(position=position, unread_total=sum(unread.values()), rooms=shown)


@router.get("/rooms", response_model=RoomList)
def list_rooms(caller: ReadCaller, session: DbSession) -> RoomList:
    """Rooms joined or invited into, most recent activity first, with unread counts."""
    with transaction(session, read_only=True):
        return room_list(session, caller.actor)


def _room_read(session: Session, actor: Actor, room_id: int) -> RoomRead:
    view = next(v for v in rooms.my_rooms(session=session, actor=actor) if v.room.id == room_id)
    return RoomRead.of(view)


@router.post("/rooms/direct", response_model=RoomRead, status_code=201)
def create_direct(body: DirectCreate, caller: CurrentCaller, session: DbSession) -> RoomRead:
    """The direct room with ``user_id`` (the existing one if there is one)."""
    with transaction(session):
        room = rooms.create_direct(
            session=session, actor=caller.actor, context=caller.context, other_user_id=body.user_id
        )
        return _room_read(session, caller.actor, room.id)


@router.post("/rooms/group", response_model=RoomRead, status_code=201)
def create_group(body: GroupCreate, caller: CurrentCaller, session: DbSession) -> RoomRead:
    with transaction(session):
        room = rooms.create_group(
            session=session,
            actor=caller.actor,
            context=caller.context,
            name=body.name,
            topic=body.topic,
            invite_user_ids=tuple(body.invite),
        )
        return _room_read(session, caller.actor, room.id)


@router.post("/rooms/broadcast", response_model=RoomRead, status_code=201)
def create_broadcast(body: BroadcastCreate, caller: CurrentCaller, session: DbSession) -> RoomRead:
    """A broadcast from ``unit_id`` (the caller's unit by default) to the units below it."""
    with transaction(session):
        room = broadcasts.create_broadcast(
            session=session,
            actor=caller.actor,
            context=caller.context,
            name=body.name,
            topic=body.topic,
            unit_id=body.unit_id,
        )
        return _room_read(session, caller.actor, room.id)


@router.post("/rooms/{room_id}/invite", status_code=204)
def invite(room_id: Id, body: UserRef, caller: CurrentCaller, session: DbSession) -> Response:
    with transaction(session):
        rooms.invite(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            user_id=body.user_id,
        )
    return Response(status_code=204)


@router.post("/rooms/{room_id}/join", response_model=RoomRead)
def join(room_id: Id, caller: CurrentCaller, session: DbSession) -> RoomRead:
    with transaction(session):
        rooms.join(session=session, actor=caller.actor, context=caller.context, room_id=room_id)
        return _room_read(session, caller.actor, room_id)


@router.post("/rooms/{room_id}/leave", status_code=204)
def leave(room_id: Id, caller: CurrentCaller, session: DbSession) -> Response:
    """Leave a direct room or group, or decline an invitation."""
    with transaction(session):
        rooms.leave(session=session, actor=caller.actor, context=caller.context, room_id=room_id)
    return Response(status_code=204)


@router.post("/rooms/{room_id}/kick", status_code=204)
def kick(room_id: Id, body: Kick, caller: CurrentCaller, session: DbSession) -> Response:
    with transaction(session):
        rooms.kick(
            session=session,
            actor=caller.actor,
            context=caller.context,
            room_id=room_id,
            user_id=body.user_id,
            ban=body.ban,
        )
    return Response(status_code=204)


@router.get("/rooms/{room_id}/members", response_model=list[MemberRead])
def list_members(room_id: Id, caller: ReadCaller, session: DbSession) -> list[MemberRead]:
    with transaction(session, read_only=True):
        found = rooms.members(
            session=session, actor=caller.actor, context=caller.context, room_id=room_id
        )
        names = user_names(session, [m.user_id for m in found])
        return [
            MemberRead(
                user_id=m.user_id,
                name=names.get(m.user_id, ""),
                membership=m.membership,
                role=m.role,
            )
            for m in found
        ]


# -- messages ---------------------------------------------------------------------------------


def _shown(session: Session, actor: Actor, row: ChatEvent) -> EventRead:
    shown, _ = present(session, [TimelineItem.of(row)], actor.user_id)
    return shown[0]


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
        return _shown(session, caller.actor, row)


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
        return _shown(session, caller.actor, row)


@router.delete("/events/{event_key}", response_model=EventRead)
def delete(event_key: str, caller: CurrentCaller, session: DbSession) -> EventRead:
    """Delete a message (the sender within the window, moderators always); the redaction."""
    with transaction(session):
        row = messages.redact(
            session=session, actor=caller.actor, context=caller.context, event_key=event_key
        )
        return _shown(session, caller.actor, row)


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


# -- broadcasts -------------------------------------------------------------------------------


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


# -- attachments ------------------------------------------------------------------------------


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
        return _shown(session, caller.actor, row)


@router.get("/events/{event_key}/attachment", response_class=StreamingResponse)
def download_attachment(
    event_key: str, caller: CurrentCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    """The file of an attachment, authorised by the room and audited; a missing event and one
    in a room the caller is not in answer alike (404)."""
    return files.download(session, caller.actor, caller.context, instance, event_key)


# -- typing -----------------------------------------------------------------------------------


def typing_board(request: Request) -> TypingBoard:
    state = request.app.state
    board = getattr(state, "chat_typing", None)
    if board is None:
        board = TypingBoard(get_instance(request).settings.jobs.redis_url)
        state.chat_typing = board
    assert isinstance(board, TypingBoard)
    return board


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
    typing_board(request).set(room_id, caller.actor.user_id, body.typing, body.timeout_ms)
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
    others = [u for u in typing_board(request).typing(room_id) if u != caller.actor.user_id]
    return TypingRead(user_ids=others)


# -- sync -------------------------------------------------------------------------------------


def hub_for(instance: Instance, state: object) -> live.Hub:
    jobs = instance.settings.jobs
    return live.hub_of(state, instance.sessions, jobs.redis_url, jobs.poll_seconds)


def stream_head(instance: Instance) -> int:
    """The position to follow from now."""
    session = instance.sessions()
    try:
        with transaction(session, read_only=True):
            return events.head_position(session)
    finally:
        session.close()


def read_sync(instance: Instance, actor: Actor, since: int) -> tuple[SyncRead, bool]:
    """One read of the caller's changes after ``since``, in a read-only transaction of its own;
    and whether chat events committed after it still wait for their positions."""
    session = instance.sessions()
    try:
        with transaction(session, read_only=True):
            page = sync.read(session, actor, since, limit=sync.SCAN_LIMIT)
            items = [item.event for item in page.items if item.event is not None]
            shown, names = present(session, items, actor.user_id)
            by_id = {item.id: read for item, read in zip(items, shown, strict=True)}
            acked = event_keys(
                session,
                [
                    v
                    for item in page.items
                    if item.event is None and isinstance(v := item.data.get("event_id"), int)
                ],
            )
            names.update(
                user_names(
                    session,
                    [v for item in page.items if isinstance(v := item.data.get("user_id"), int)],
                )
            )
            out = []
            for item in page.items:
                event_id = item.data.get("event_id")
                message = acked.get(event_id) if isinstance(event_id, int) else None
                event = by_id.get(item.event.id) if item.event is not None else None
                out.append(SyncEventRead.of(item, event, message if event is None else None))
            return SyncRead(events=out, next=page.next, users=names), page.pending
    finally:
        session.close()


@router.get("/sync", response_model=SyncRead)
async def long_poll(
    request: Request,
    caller: CurrentCaller,
    instance: CurrentInstance,
    since: Annotated[Position | None, Query()] = None,
    timeout: Annotated[int, Query(ge=0, le=MAX_TIMEOUT_MS)] = DEFAULT_TIMEOUT_MS,
) -> SyncRead:
    """The caller's chat changes after stream position ``since``, in order, with ``next`` to
    ask from next time; waits up to ``timeout`` ms for one when there is none yet.

    Without ``since``: nothing, and the position to follow from (list the rooms, then follow).
    400 ``invalid_position`` for a position not handed out; 410 ``chat_sync_expired`` when the
    changes after it are no longer kept (list the rooms again).
    """
    hub = hub_for(instance, request.app.state)
    deadline = time.monotonic() + timeout / 1000
    if since is None:
        head = await run_in_threadpool(stream_head, instance)
        return SyncRead(events=[], next=head, users={})
    position = since
    #: Events that committed before the request are answered even with ``timeout=0``: the hub
    #: is asked to give them their positions, and waited for (a bounded while).
    settle = time.monotonic() + SETTLE_SECONDS
    while True:
        found, pending = await run_in_threadpool(read_sync, instance, caller.actor, position)
        now = time.monotonic()
        if found.events or (now >= deadline and (not pending or now >= settle)):
            return found
        position = found.next
        if pending:
            hub.poke()
        await hub.wait_beyond(position, max(deadline, settle if pending else deadline) - now)


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host:
        return False
    return origin.split("://", 1)[-1].rstrip("/") == host


def _ws_actor(instance: Instance, websocket: WebSocket) -> Actor:
    """The signed-in person of the WebSocket (session cookie only, as the pages), checked like
    a page's read."""
    token = websocket.cookies.get(SESSION_COOKIE)
    if not token:
        raise PolarisError("sign in first", code="not_authenticated")
    info = RequestInfo(
        source_address=websocket.client.host if websocket.client else None,
        client=websocket.headers.get("user-agent"),
    )
    session = instance.sessions()
    try:
        with transaction(session, read_only=True):
            caller, _ = session_caller(session, instance, token, info)
            gate.require_credentials(
                session=session,
                actor=caller.actor,
                need=Need.READ,
                operation="WEBSOCKET /api/v1/chat/ws",
                context=caller.context,
            )
            return caller.actor
    finally:
        session.close()


@router.websocket("/ws")
async def socket(websocket: WebSocket, since: int | None = None) -> None:
    """The page's live feed: the same changes as the long-poll, pushed as JSON messages
    (``{"events": [...], "next": P, "users": {...}}``) from ``since``; the session cookie
    authenticates it and the ``Origin`` must be this site's (a page elsewhere cannot open it
    with the person's cookie). Closes with 4401 when not signed in, 4403 for another origin,
    4400 for a bad position."""
    instance: Instance = websocket.app.state.instance
    if not _same_origin(websocket):
        await websocket.close(code=4403)
        return
    try:
        actor = await run_in_threadpool(_ws_actor, instance, websocket)
    except PolarisError:
        await websocket.close(code=4401)
        return
    await websocket.accept()
    hub = hub_for(instance, websocket.app.state)
    position = since if since is not None else await run_in_threadpool(stream_head, instance)
    closed = asyncio.ensure_future(_until_closed(websocket))
    try:
        while not closed.done():
            try:
                found, pending = await run_in_threadpool(read_sync, instance, actor, position)
            except PolarisError as error:
                await websocket.close(code=4410 if error.status == 410 else 4400)
                return
            if found.events:
                await websocket.send_text(found.model_dump_json())
            position = found.next
            if pending:
                hub.poke()
            waiting = asyncio.ensure_future(hub.wait_beyond(position, 25.0))
            await asyncio.wait({waiting, closed}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        closed.cancel()


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes."""
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
