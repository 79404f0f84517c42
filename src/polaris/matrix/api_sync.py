"""``GET /sync``: long-poll over the change stream (``matrix.sync`` builds the answer,
``chat.live`` wakes the wait: only for a change in the user's rooms or about the user).

With a ``since`` token and ``timeout`` (milliseconds, at most ``MAX_TIMEOUT_MS``), the request
waits until something reaches the user's rooms or the time runs out, then answers with what there
is (possibly nothing, with a later token). The wait holds no database connection and no thread.
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
from polaris.matrix.caller import Matrix
from polaris.matrix.ids import server_name
from polaris.matrix.routing import CLIENT_PREFIXES

router = APIRouter(include_in_schema=False)

MAX_TIMEOUT_MS = 120_000


async def get_sync(
    request: Request,
    caller: Matrix,
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

    def read_filter() -> sync_filter.SyncFilter:
        with transaction(session, read_only=True):
            return sync_filter.load(session, caller.caller.user.id, filter)

    wanted = await run_in_threadpool(read_filter)
    who = sync.Caller(
        session=session,
        actor=caller.caller.actor,
        context=caller.caller.context,
        server=server_name(instance.settings, request),
        live=live,
        device=(caller.caller.actor.user_id, caller.device_id),
        lazy_members=wanted.lazy_load_members,
    )
    token = None if since is None or full_state else sync.parse_token(since)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(timeout, MAX_TIMEOUT_MS) / 1000

    def build(at: sync.Token | None) -> sync.Result:
        with transaction(session, read_only=True):
            if at is not None:
                return sync.incremental(who, at)
            return sync.initial(who, timeline_limit=wanted.timeline_limit)

    def quiet(at: sync.Token) -> frozenset[int] | None:
        with transaction(session, read_only=True):
            head = events.head_position(session)
        return live.quiet(who.actor.user_id, at.position, head, at.serial)

    first = True
    while True:
        if first:
            # What committed before this request is in its answer (read-your-writes), without
            # waiting for the hub or the event runner to sequence it. Later reads follow a
            # wake-up, which the hub gives after sequencing.
            await run_in_threadpool(consumers.sequence_pending, instance.sessions)
            first = False
            # A client just answered comes back at once: when the hub's copy shows nothing for
            # it since its token, wait before reading anything more.
            rooms = await run_in_threadpool(quiet, token) if token is not None else None
            remaining = deadline - loop.time()
            if token is not None and rooms is not None and remaining > 0:
                await live.wait_beyond(
                    token.position, remaining, rooms=rooms, user_id=who.actor.user_id,
                    serial=token.serial,
                )  # fmt: skip
        result = await run_in_threadpool(build, token)
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
            user_id=caller.caller.actor.user_id,
            serial=token.serial,
        )


for _prefix in CLIENT_PREFIXES:
    router.add_api_route(_prefix + "/sync", get_sync, methods=["GET"])
