"""What the Matrix route modules share: registering a client endpoint under both prefixes, and
refusing another user's settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.routing import Route

from polaris.matrix.caller import MatrixCaller
from polaris.matrix.ids import server_name, user_id
from polaris.web.matrix_errors import MatrixError

CLIENT_PREFIXES = ("/_matrix/client/v3", "/_matrix/client/r0")
#: Where Element Android classic still calls a few endpoints (``room_keys``, MSC2432's aliases).
UNSTABLE_PREFIX = "/_matrix/client/unstable"

Endpoint = Callable[..., Any]
PlainEndpoint = Callable[[Request], Awaitable[Response]]

#: The plain routes registered ``hot``: the app also calls them through a short stack of its own
#: layers, past FastAPI's (``web.hot_routes``).
HOT_ROUTES: list[Route] = []


def client(router: APIRouter, path: str, *methods: str) -> Callable[[Endpoint], Endpoint]:
    """Register an endpoint under both client prefixes (Element Android classic calls ``r0``)."""

    def register(endpoint: Endpoint) -> Endpoint:
        for prefix in CLIENT_PREFIXES:
            router.add_api_route(prefix + path, endpoint, methods=list(methods))
        return endpoint

    return register


def plain_client(
    router: APIRouter, path: str, *methods: str, hot: bool = False
) -> Callable[[PlainEndpoint], PlainEndpoint]:
    """Register a plain Starlette endpoint (it takes the request and returns a response) under
    both prefixes: for the busiest requests, which skip FastAPI's per-request dependency
    machinery. The endpoint runs the app-wide checks itself (``web.checks.every_request``).
    ``hot``: also in :data:`HOT_ROUTES`, which skip FastAPI's router too."""

    def register(endpoint: PlainEndpoint) -> PlainEndpoint:
        for prefix in CLIENT_PREFIXES:
            router.add_route(
                prefix + path, endpoint, methods=list(methods), include_in_schema=False
            )
            if hot:
                HOT_ROUTES.append(Route(prefix + path, endpoint, methods=list(methods)))
        return endpoint

    return register


def unstable(router: APIRouter, path: str, *methods: str) -> Callable[[Endpoint], Endpoint]:
    """Register an endpoint under the unstable client prefix as well (after ``client``)."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(UNSTABLE_PREFIX + path, endpoint, methods=list(methods))
        return endpoint

    return register


def own(caller: MatrixCaller, request: Request, matrix_id: str, what: str) -> None:
    """Refuse an operation on another user's ``what`` (filters, account data)."""
    instance = request.app.state.instance
    mine = user_id(caller.caller.actor.username, server_name(instance.settings, request))
    if matrix_id != mine:
        raise MatrixError(403, "M_FORBIDDEN", f"cannot use another user's {what}")
