"""The busiest plain routes called straight from the middleware, past FastAPI's router.

A woken Matrix long-poll is answered and asked again by every member at once, and a send is the
other half of the same traffic: for them, FastAPI's own layers (its exception and exit-stack
middleware, and a router that asks every included router in turn, each checking its routes'
version) cost about as much CPU on the event loop as our middleware and more than the route's
own first steps (measured in-process: a ``/sync`` refused for its missing token, 400-460 µs of
CPU through the whole app, 235-280 µs called directly).

:class:`HotRoutes` is the innermost of the app's middleware: a request whose method and path a
hot route matches fully goes to that route at once, through Starlette's ``ExceptionMiddleware``
with the app's exception handlers (the same answers for the same errors; an error no handler
takes goes on up to the server-error layer, as from the router). Anything else goes on to
FastAPI's layers unchanged. The hot routes are registered with the app's router too (the same
endpoint), so a request answers the same with or without this layer
(``tests/web/test_hot_routes.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class HotRoutes:
    """Call ``routes`` directly for the requests they match fully (method and path) under
    ``prefix``; ``handlers``: the app's exception handlers (FastAPI's ``exception_handlers``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[Route],
        handlers: Mapping[Any, Any],
        prefix: str,
    ) -> None:
        self.app = app
        self.prefix = prefix
        # As FastAPI builds its own: the 500 and ``Exception`` handler stays with the
        # server-error layer outside every middleware.
        taken = {k: v for k, v in handlers.items() if k not in (500, Exception)}
        self.routes = [
            (route, ExceptionMiddleware(route.handle, handlers=taken)) for route in routes
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            for route, handled in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    await handled(scope, receive, send)
                    return
        await self.app(scope, receive, send)
