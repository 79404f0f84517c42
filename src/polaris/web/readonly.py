"""Refusing writes while the incident switch is on (``polaris.incident``).

A dependency of every route (``polaris.app``): what the switch says comes from a callable the app
is given (``app.state.read_only``), so this layer knows no domain. It is read through a cache
with a short lifetime, in the thread pool when the cache is stale (a database read must not hold
the event loop). A write waits for a fresh value; a read, which is never refused, takes the last
value at once (for the pages' banner) while one request reads it again (before its own work, in
the thread pool, as every request did when the value was stale).

What is a write: any method but GET, HEAD and OPTIONS (the API, the pages' forms, tus uploads,
WebDAV). Allowed all the same, so that officers can still sign in and read and accounts can be
secured: signing in and out (sessions are rows: a sign-in writes), the second factor and its
enrolment, changing one's own password, and the language preference (a cookie); for Matrix
apps, signing in and out and the POSTs that only read (the directory search, the key query).
And the status page's switch-off (:data:`INCIDENT_OFF`), or the switch could only be turned off
from the command line: only the path goes through here; the route itself lets administrators
alone turn it off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from polaris.errors import InstanceReadOnly
from polaris.web.pages import PASSWORD_PAGE

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The status page's form that turns the incident switch off (``admin.views_incident``).
INCIDENT_OFF = "/admin/incident/off"
ALLOWED_WRITES = frozenset(
    {
        "/api/v1/auth/login",
        "/api/v1/auth/mfa",
        "/api/v1/auth/mfa/enrol",
        "/api/v1/auth/mfa/confirm",
        "/api/v1/auth/logout",
        "/api/v1/auth/password",
        "/login",
        "/login/mfa",
        "/enrol/start",
        "/enrol/confirm",
        "/logout",
        "/language",
        PASSWORD_PAGE,
        INCIDENT_OFF,
        # Matrix apps (polaris.matrix): signing in and out, the browser's side of it, and the
        # POSTs that only read.
        "/account/matrix",
        *(
            f"/_matrix/client/{version}/{path}"
            for version in ("v3", "r0")
            for path in (
                "login",
                "logout",
                "logout/all",
                "user_directory/search",
                "keys/query",
                "publicRooms",
            )
        ),
    }
)


class ReadOnlyState(Protocol):
    @property
    def reason(self) -> str: ...

    @property
    def since(self) -> dt.datetime: ...

    @property
    def since_ist(self) -> str: ...


class StateSource(Protocol):
    def fresh(self) -> bool: ...

    def get(self) -> ReadOnlyState | None: ...

    def last(self) -> tuple[bool, ReadOnlyState | None, bool]: ...


async def refuse_writes_during_incident(request: HTTPConnection) -> None:
    """Refuse writes while the incident switch is on (a WebSocket, which only reads, passes)."""
    source: StateSource | None = getattr(request.app.state, "read_only", None)
    if source is None:
        return
    get: Callable[[], ReadOnlyState | None] = source.get
    reading = request.scope.get("method", "GET") in READ_METHODS
    if source.fresh():
        state = get()
    elif reading and (found := source.last())[0]:
        _, state, refresh = found
        if refresh:
            state = await run_in_threadpool(get)
    else:
        state = await run_in_threadpool(get)
    request.state.incident = state  # for the pages' banner
    if state is None or reading:
        return
    if request.url.path in ALLOWED_WRITES:
        return
    raise InstanceReadOnly(
        f"Polaris is read-only during incident response since {state.since_ist}: "
        f"{state.reason}; reading still works",
        reason=state.reason,
        since=state.since_ist,
    )
