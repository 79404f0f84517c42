"""``GET /sync``: long-poll over the change stream (``matrix.sync`` builds the answer,
``chat.live`` wakes the wait: only for a change in the user's rooms or about the user).

With a ``since`` token and ``timeout`` (milliseconds, at most ``MAX_TIMEOUT_MS``), the request
waits until something reaches the user's rooms or the time runs out, then answers with what there
is (possibly nothing, with a later token). The wait holds no database connection and no thread.

The route is a plain Starlette one (``routing.plain_client``) and the caller is not a
dependency: a long-poll that may wait takes its first look (the caller, the token, the filter)
and, once woken, its answer with the other syncs' in one read-only transaction
(``matrix.sync_batch``); a sync that may not wait resolves its caller in the thread call of its
first look, in the same read-only transaction (``caller.resolve(hold=True)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris.chat.live import hub_of
from polaris.db.uow import transaction
from polaris.deps import get_instance, record_seen
from polaris.events import consumers
from polaris.events import service as events
from polaris.identity.seen import Touch
from polaris.instance import Instance
from polaris.matrix import sync, sync_filter
from polaris.matrix.caller import MatrixCaller, prefetch, required_token, resolve, resolve_in
from polaris.matrix.ids import server_name
from polaris.matrix.routing import plain_client
from polaris.matrix.sync_batch import batcher_of
from polaris.web import checks, lanes

router = APIRouter(include_in_schema=False)

MAX_TIMEOUT_MS = 120_000


#: The query's parameters: the longest value each takes (``set_presence`` is accepted and
#: ignored).
_LONGEST = {"since": 64, "filter": 65_536, "set_presence": 32, "timeout": 16, "full_state": 8}
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


@dataclass(frozen=True)
class SyncQuery:
    since: str | None = None
    timeout: int = 0
    full_state: bool = False
    filter: str | None = None


def _invalid(name: str, value: str, message: str) -> RequestValidationError:
    """The refusal FastAPI's own validation gives (a Matrix path answers it as ``M_BAD_JSON``)."""
    error = {"type": "value_error", "loc": ("query", name), "msg": message, "input": value}
    return RequestValidationError([error])


def parse_query(request: Request) -> SyncQuery:
    """The sync's query, checked as FastAPI's parameters would check it, without its dependency
    solving (a tenth of a woken sync's CPU on the event loop went to solving the parameters and
    the session dependency)."""
    params = request.query_params
    for name, longest in _LONGEST.items():
        value = params.get(name)
        if value is not None and len(value) > longest:
            raise _invalid(name, value[:64], f"at most {longest} characters")
    timeout = 0
    if (raw := params.get("timeout")) is not None:
        if not raw.isascii() or not raw.isdigit() or int(raw) > 10**9:
            raise _invalid("timeout", raw, "a whole number from 0 to 1000000000")
        timeout = int(raw)
    full_state = False
    if (flag := params.get("full_state")) is not None:
        if flag.lower() not in _TRUE | _FALSE:
            raise _invalid("full_state", flag, "true or false")
        full_state = flag.lower() in _TRUE
    return SyncQuery(params.get("since"), timeout, full_state, params.get("filter"))


def woken(
    who: Callable[[Session], sync.Caller], at: sync.Token, committed: int
) -> Callable[[Session], sync.Result]:
    """A woken long-poll's incremental answer for the caller ``who(session)`` makes, to be built
    with the others queued (``matrix.sync_batch``) in their session and read-only transaction.

    ``committed``, the head it is complete up to, must be known committed before that
    transaction starts: the hub's head (every position up to it was given to a committed event)
    or the first look's, whichever is later, taken when the build is queued. Not when it runs: a
    pass's builds run one after the other in the snapshot of its first, and the hub's head read
    during a later build can be past that snapshot (that answer would skip a message for good).
    """

    def work(shared: Session) -> sync.Result:
        return sync.incremental(who(shared), at, committed=committed)

    return work


@dataclass(frozen=True)
class Answering:
    """A woken answer's hint for its pass: the user whose rooms it reads (a long-poll's first
    look hints its access token, a ``str``)."""

    user_id: int


def prepare_pass(session: Session, hints: list[object]) -> None:
    """What a pass of the sync batcher reads for all of its builds at once, in its transaction:
    the first looks' sessions (``caller.prefetch``) and the answers' member rows and rooms
    (``sync.prefetch_memberships``)."""
    tokens = [hint for hint in hints if isinstance(hint, str)]
    if tokens:
        prefetch(session, tokens)
    users = [hint.user_id for hint in hints if isinstance(hint, Answering)]
    if users:
        sync.prefetch_memberships(session, users)


async def get_sync(request: Request) -> JSONResponse:
    """A plain Starlette route (``router.add_route``), not FastAPI's: a woken sync is one
    response and one new request per client, and FastAPI's request handling (its dependency
    solving, the sub-response it makes and strips, the exit stacks) was a quarter of the event
    loop's work for them. The app-wide checks run first (``web.checks.every_request``, what
    FastAPI runs for its routes), and errors go through the app's handlers as any route's."""
    await checks.every_request(request)
    query = parse_query(request)
    instance = get_instance(request)
    own = _OwnSession(instance.sessions)
    try:
        return await _sync(request, instance, own, query)
    finally:
        own.close()


class _OwnSession:
    """The request's own session, opened only when it is used: a long-poll that may wait
    reads in the batcher's shared session (``matrix.sync_batch``), and opening and closing a
    session it never used was a twentieth of a woken sync's work on the event loop."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions
        self._session: Session | None = None

    def get(self) -> Session:
        if self._session is None:
            self._session = self._sessions()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


async def _sync(
    request: Request, instance: Instance, own: _OwnSession, query: SyncQuery
) -> JSONResponse:
    since, timeout, full_state, filter = (
        query.since, query.timeout, query.full_state, query.filter,
    )  # fmt: skip
    jobs = instance.settings.jobs
    live = hub_of(request.app.state, instance.sessions, jobs.redis_url, jobs.poll_seconds)
    batcher = batcher_of(request.app.state, instance.sessions, lanes.SYNC, prepare_pass)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(timeout, MAX_TIMEOUT_MS) / 1000

    def initial() -> sync.Result:
        """An initial sync, in the request's session, on the shared pool (it can be large)."""
        session = own.get()
        with transaction(session, read_only=True):
            return sync.initial(who(session), timeline_limit=wanted.timeline_limit)

    def start() -> tuple[
        MatrixCaller, sync.Token | None, frozenset[int] | None, sync_filter.SyncFilter, int
    ]:
        """The first look of a sync that may not wait (``timeout=0``, an initial one or
        ``full_state``; a long-poll that may wait takes ``look``): who calls
        (``caller.resolve``), then what committed before this request is in its answer
        (read-your-writes), without waiting for the hub or the event runner to sequence it: the
        caller's read transaction goes on to look for unsequenced events and read the head, and
        only when some wait are they sequenced here. The same read transaction reads the
        request's filter (a stored one is a row)."""
        session = own.get()
        caller = resolve(request, session, hold=True)
        at = None if since is None or full_state else sync.parse_token(since)
        with transaction(session, read_only=True):
            wanted = sync_filter.load(session, caller.caller.actor.user_id, filter)
            pending, head = consumers.pending_and_head(session)
        if pending:
            consumers.sequence_pending(instance.sessions)
            with transaction(session, read_only=True):
                head = events.head_position(session)
        if at is None:
            return caller, None, None, wanted, head
        user_id = caller.caller.actor.user_id
        return caller, at, live.quiet(user_id, at.position, head, at.serial), wanted, head

    def look(
        shared: Session,
    ) -> tuple[MatrixCaller, Touch | None, sync.Token, sync_filter.SyncFilter]:
        """A long-poll's first look when it may wait, read with the other syncs' in their
        session and read-only transaction (``matrix.sync_batch``): who calls
        (``caller.resolve_in``: the same statement and ``access`` decision; a refusal is built
        again alone and audited as before), then its token and filter, in ``start``'s order.
        It does not look at the stream: it takes the hub's head, and what committed before it
        that the hub has not read yet wakes it once the hub has (the commit wakes the hub), so
        it is answered all the same, in the same order, a wake-up later."""
        caller, touch = resolve_in(request, shared, required)
        return (
            caller,
            touch,
            sync.parse_token(str(since)),
            sync_filter.load(shared, caller.caller.actor.user_id, filter),
        )

    token: sync.Token | None
    if since is not None and not full_state and timeout > 0:
        required = required_token(request)
        caller, touch, given, wanted = await batcher.run(look, hint=required)
        if touch is not None:  # a due last-seen write (once a minute a session): not in the lane
            await run_in_threadpool(record_seen, own.get(), touch)
        head = live.head
        rooms = live.quiet(caller.caller.actor.user_id, given.position, head, given.serial)
        token = given
    else:
        caller, token, rooms, wanted, head = await lanes.SYNC.run(start)
    user_id = caller.caller.actor.user_id
    who = partial(
        sync.Caller,
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
        if token is not None:
            committed = max(live.head, head)
            result = await batcher.run(
                woken(who, token, committed), answer=True, hint=Answering(user_id)
            )
        else:
            result = await run_in_threadpool(initial)
        if result.rooms is not None:
            live.remember(user_id, result.token.position, result.rooms)
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


plain_client(router, "/sync", "GET", hot=True)(get_sync)
