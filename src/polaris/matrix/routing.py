"""What the Matrix route modules share: registering a client endpoint under both prefixes, and
refusing another user's settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from polaris.matrix.caller import MatrixCaller
from polaris.matrix.ids import server_name, user_id
from polaris.web.matrix_errors import MatrixError

CLIENT_PREFIXES = ("/_matrix/client/v3", "/_matrix/client/r0")
#: Where Element Android classic still calls a few endpoints (``room_keys``, MSC2432's aliases).
UNSTABLE_PREFIX = "/_matrix/client/unstable"

Endpoint = Callable[..., Any]


def client(router: APIRouter, path: str, *methods: str) -> Callable[[Endpoint], Endpoint]:
    """Register an endpoint under both client prefixes (Element Android classic calls ``r0``)."""

    def register(endpoint: Endpoint) -> Endpoint:
        for prefix in CLIENT_PREFIXES:
            router.add_api_route(prefix + path, endpoint, methods=list(methods))
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
