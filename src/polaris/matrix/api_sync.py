"""``GET /sync``: long-poll over the change stream (``matrix.sync`` builds the answer,
``chat.live`` wakes the wait: only for a change in the user's rooms or about the user).

With a ``since`` token and ``timeout`` (milliseconds, at most ``MAX_TIMEOUT_MS``), the request
waits until something reaches the user's rooms or the time runs out, then answers with what there
is (possibly nothing, with a later token). The wait holds no database connection and no thread.

The caller is not a dependency here: it is resolved in the thread call that takes the sync's
first look, in the same read-only transaction (``caller.resolve(hold=True)``), so a long-poll
costs one thread hop and one transaction fewer than a route with the ``Matrix`` dependency.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from polaris.chat.live import hub_of
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.events import consumers
from polaris.events import service as events
from polaris.matrix import sync, sync_filter
from polaris.matrix.caller import MatrixCaller, resolve
from polaris.matrix.ids import server_name
from polaris.matrix.routing import CLIENT_PREFIXES
from polaris.web import lanes

router = APIRouter(include_in_schema=False)

MAX_TIMEOUT_MS = 120_000


async def get_sync(
    request: Request,
    instance: CurrentInstance,
    session: DbSession,
    since: Annotated[str | None, Query(max_length=64)] = None,
    timeout: Annotated[int, Query(ge=0, le=10**9)] = 0,
    full_state: bool = False,
    filter: Annotated[str | None, Query(max_length=65_536)] = None,
    set_presence: Annotated[str | None, Query(max_length=32)] = None,
) -> JSONResponse:
    del set_presence
    jobs = instance.settings.jobs
    live = hub_of(request.app.state, instance.sessions, jobs.redis_url, jobs.poll_seconds)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(timeout, MAX_TIMEOUT_MS) / 1000

    def build(at: sync.Token | None) -> sync.Result:
        # A head known committed before this transaction starts: the hub's (every position up
        # to it was given to a committed event) or the first look's, whichever is later; the
        # answer is complete up to it without reading the head again.
        committed = max(live.head, head)
        with transaction(session, read_only=True):
            if at is not None:
                return sync.incremental(who, at, committed=committed)
            return sync.initial(who, timeline_limit=wanted.timeline_limit)

    def start() -> tuple[
        MatrixCaller, sync.Token | None, frozenset[int] | None, sync_filter.SyncFilter, int
    ]:
        """Who calls (``caller.resolve``), then, for a sync that may not wait (``timeout=0``, or an
        initial one), what committed before this request is in its answer (read-your-writes),
        without waiting for the hub or the event runner to sequence it: the caller's read
        transaction goes on to look for unsequenced events and read the head, and only when some
        wait are they sequenced here. A long-poll that may wait takes the hub's head instead (no
        statement): what committed before it and is not in the hub's copy yet wakes it when the
        hub has sequenced and read it (its commit wakes the hub), so it is answered all the same,
        in the same order, a wake-up later. Then, for a client just answered that comes back at
        once, the rooms to wait on when the hub's copy shows nothing for it since its token
        (``Hub.quiet``; None: read now). The same read transaction reads the request's filter (a
        stored one is a row)."""
        caller = resolve(request, session, hold=True)
        at = None if since is None or full_state else sync.parse_token(since)
        may_wait = at is not None and timeout > 0
        with transaction(session, read_only=True):
            wanted = sync_filter.load(session, caller.caller.actor.user_id, filter)
            pending, head = (False, live.head) if may_wait else consumers.pending_and_head(session)
        if pending:
            consumers.sequence_pending(instance.sessions)
            with transaction(session, read_only=True):
                head = events.head_position(session)
        if at is None:
            return caller, None, None, wanted, head
        user_id = caller.caller.actor.user_id
        return caller, at, live.quiet(user_id, at.position, head, at.serial), wanted, head

    caller, token, rooms, wanted, head = await lanes.SYNC.run(start)
    user_id = caller.caller.actor.user_id
    who = sync.Caller(
        session=session,
        actor=caller.caller.actor,
        context=caller.caller.context,
        server=server_name(instance.settings, request),
        live=live,
        device=(user_id, caller.device_id),
        lazy_members=wanted.lazy_load_members,
    )
    first = True
    while True:
        if first:
            first = False
            remaining = deadline - loop.time()
            if token is not None and rooms is not None and remaining > 0:
                await live.wait_beyond(
                    token.position, remaining, rooms=rooms, user_id=user_id,
                    serial=token.serial,
                )  # fmt: skip
        # An incremental sync in the syncs' lane (``web.lanes``); an initial one, which can be
        # large, on the shared pool.
        result = await (lanes.SYNC.run if token is not None else run_in_threadpool)(build, token)
        if result.rooms is not None:
            live.remember(who.actor.user_id, result.token.position, result.rooms)
        remaining = deadline - loop.time()
        if result.has_data or remaining <= 0 or live.released or await request.is_disconnected():
            wanted.apply(result.body)
            return JSONResponse(result.body)
        token = result.token
        await live.wait_beyond(
            token.position,
            remaining,
            rooms=result.rooms,
            user_id=user_id,
            serial=token.serial,
        )


for _prefix in CLIENT_PREFIXES:
    router.add_api_route(_prefix + "/sync", get_sync, methods=["GET"])
