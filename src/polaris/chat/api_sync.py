"""The messenger's sync: the caller's changes from the change stream (``chat.sync``), by
long-poll or pushed over the page's WebSocket, waiting on the process's hub (``chat.live``) for
a change in the caller's rooms or about the caller, and read from the hub's copy of the recent
events when it has them.

Both also carry the typing notices of the one room the page has open (``typing_room``), from the
one store (``chat.typing_state``, through the hub): a notice set wakes the room's waiters, and
the answer says who is typing when that changed after the ``typing_serial`` the client last got.
Only a room the caller is joined to is reported (the rooms the sync itself follows)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from polaris import events
from polaris.access import gate
from polaris.access.policy import Actor, Need
from polaris.chat import live, sync
from polaris.chat.present import event_keys, present, user_names
from polaris.chat.schemas import (
    SyncEventRead,
    SyncRead,
    SyncTypingRead,
)
from polaris.db.uow import transaction
from polaris.deps import (
    SESSION_COOKIE,
    CurrentCaller,
    CurrentInstance,
    session_caller,
)
from polaris.errors import PolarisError
from polaris.identity.actors import RequestInfo
from polaris.instance import Instance
from polaris.web import lanes
from polaris.web.params import Position

router = APIRouter()


MAX_TIMEOUT_MS = 60_000
DEFAULT_TIMEOUT_MS = 30_000
#: How long a sync waits for events that committed before it to be given their positions.
SETTLE_SECONDS = 5.0


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


def read_sync(
    instance: Instance, actor: Actor, since: int, hub: live.Hub | None = None
) -> tuple[SyncRead, sync.SyncPage]:
    """One read of the caller's changes after ``since``, in a read-only transaction of its own
    (the recent events from the hub's copy when it has them); and the page it came from, which
    says whether chat events committed after it still wait for their positions and which rooms
    to follow."""
    session = instance.sessions()
    try:
        with transaction(session, read_only=True):
            page = sync.read(session, actor, since, limit=sync.SCAN_LIMIT, hub=hub)
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
            return SyncRead(events=out, next=page.next, users=names), page
    finally:
        session.close()


@dataclass
class TypingFollow:
    """The open room whose typing a sync carries, and the serial its client has seen (None:
    tell it the room's typing now)."""

    room_id: int | None
    serial: int | None

    def news(self, hub: live.Hub, rooms: frozenset[int], me: int) -> SyncTypingRead | None:
        """The room's typing when it changed since ``serial`` (then ``serial`` moves on); the
        serial also moves on when it did not, so that another room's change does not wake the
        next wait at once."""
        if self.room_id is None or self.room_id not in rooms:
            return None
        now = hub.serial  # read first: a change after it has a later serial
        if self.serial is not None and not hub.typing_changed(self.room_id, self.serial):
            self.serial = now
            return None
        self.serial = now
        others = [u for u in hub.typing(self.room_id) if u != me]
        return SyncTypingRead(room_id=self.room_id, user_ids=others, serial=now)

    def waits_on(self, rooms: frozenset[int]) -> int | None:
        """The serial a wait is woken past (None: the sync does not follow typing)."""
        return self.serial if self.room_id is not None and self.room_id in rooms else None


@router.get("/sync", response_model=SyncRead)
async def long_poll(
    request: Request,
    caller: CurrentCaller,
    instance: CurrentInstance,
    since: Annotated[Position | None, Query()] = None,
    timeout: Annotated[int, Query(ge=0, le=MAX_TIMEOUT_MS)] = DEFAULT_TIMEOUT_MS,
    typing_room: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    typing_serial: Annotated[int | None, Query(ge=0, le=2**53)] = None,
) -> SyncRead:
    """The caller's chat changes after stream position ``since``, in order, with ``next`` to
    ask from next time; waits up to ``timeout`` ms for one when there is none yet.

    Without ``since``: nothing, and the position to follow from (list the rooms, then follow).
    400 ``invalid_position`` for a position not handed out; 410 ``chat_sync_expired`` when the
    changes after it are no longer kept (list the rooms again). With ``typing_room`` (a room
    the caller is joined to) the answer carries who is typing there when that changed since
    ``typing_serial`` (``typing``, with the serial to send next time), and a change wakes it.
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
    follow = TypingFollow(typing_room, typing_serial)
    while True:
        found, page = await lanes.SYNC.run(read_sync, instance, caller.actor, position, hub)
        found.typing = await lanes.SYNC.run(follow.news, hub, page.rooms, caller.actor.user_id)
        now = time.monotonic()
        pending = page.pending
        done = now >= deadline and (not pending or now >= settle)
        if found.events or found.typing or hub.released or done:
            return found
        position = found.next
        if pending:
            hub.poke()
        await hub.wait_beyond(
            position,
            max(deadline, settle if pending else deadline) - now,
            rooms=page.rooms,
            user_id=caller.actor.user_id,
            serial=follow.waits_on(page.rooms),
        )


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
async def socket(websocket: WebSocket, since: int | None = None, typing: int | None = None) -> None:
    """The page's live feed: the same changes as the long-poll, pushed as JSON messages
    (``{"events": [...], "next": P, "users": {...}, "typing": ...}``) from ``since``, with the
    typing notices of room ``typing`` (as the long-poll's ``typing_room``); the session cookie
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
    follow = TypingFollow(typing if typing is not None and 0 < typing <= 2**53 else None, None)
    try:
        while not closed.done():
            try:
                found, page = await lanes.SYNC.run(read_sync, instance, actor, position, hub)
            except PolarisError as error:
                await websocket.close(code=4410 if error.status == 410 else 4400)
                return
            found.typing = await lanes.SYNC.run(follow.news, hub, page.rooms, actor.user_id)
            if found.events or found.typing:
                await websocket.send_text(found.model_dump_json())
            if hub.released:  # the server is stopping: the page reconnects
                await websocket.close(code=1012)
                return
            position = found.next
            if page.pending:
                hub.poke()
            waiting = asyncio.ensure_future(
                hub.wait_beyond(
                    position,
                    25.0,
                    rooms=page.rooms,
                    user_id=actor.user_id,
                    serial=follow.waits_on(page.rooms),
                )
            )
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
