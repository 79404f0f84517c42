"""The busiest plain routes, called through a short stack of the app's own layers, past FastAPI.

A woken Matrix long-poll is answered and asked again by every member at once, and a send is the
other half of the same traffic. Through the whole app each of those requests passed twelve layers
on the way in and most of them again with each message on the way out (every layer wraps
``send``): FastAPI's own (its server-error, telemetry, body-limit, exception and exit-stack
layers, and a router that asks every included router in turn) and ours (request id and access
log, Matrix CORS, gzip, the body limit, WebDAV's dispatch, the form-encoding check). Only some of
them concern these requests.

:class:`HotApp` is the app uvicorn calls. A request whose method and path a hot route matches
fully goes through :class:`HotRoutes`' stack for that route: Starlette's server-error layer with
the app's 500 handler, then the ``layers`` given (the app's own middleware that concerns these
requests, the same classes with the same settings: ``polaris.app`` names them once for both
stacks), then the route inside Starlette's ``ExceptionMiddleware`` with the app's exception
handlers (the same answers for the same errors). Left out, because they cannot concern these
requests: WebDAV's dispatch (its paths are not the hot routes'), FastAPI's telemetry (off
unless an OpenTelemetry provider is configured for the process; when it is, every request takes
the whole app), its body limit (set for no route) and exit stack (plain routes have no
dependencies). The form-encoding check reads form bodies ahead; a hot request that declares one
takes the whole app instead, so it is checked as before. Anything else goes to FastAPI
unchanged. The hot routes are registered with the app's router too (the same endpoint), so a
request answers the same either way (``tests/web/test_hot_routes.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from polaris.web.params import is_urlencoded


class HotRoutes:
    """``routes`` under ``prefix``, each behind ``layers`` (outermost first) and the app's
    exception ``handlers`` (FastAPI's ``exception_handlers``)."""

    def __init__(
        self,
        *,
        routes: Sequence[Route],
        handlers: Mapping[Any, Any],
        prefix: str,
        layers: Sequence[Middleware] = (),
        debug: bool = False,
    ) -> None:
        self.prefix = prefix
        # As FastAPI builds its own: the 500 and ``Exception`` handler is the server-error
        # layer's, outside every other layer; the rest are the exception layer's.
        error_handler = handlers.get(500, handlers.get(Exception))
        taken = {k: v for k, v in handlers.items() if k not in (500, Exception)}
        self.routes: list[tuple[Route, ASGIApp]] = []
        for route in routes:
            stack: ASGIApp = ExceptionMiddleware(route.handle, handlers=taken, debug=debug)
            for cls, args, kwargs in reversed(layers):
                stack = cls(stack, *args, **kwargs)
            stack = ServerErrorMiddleware(stack, handler=error_handler, debug=debug)
            self.routes.append((route, stack))

    def find(self, scope: Scope) -> ASGIApp | None:
        """The stack of the hot route this request matches fully (its path parameters put in
        the scope), or None: the request takes the whole app."""
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return None
        for route, stack in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                if is_urlencoded(scope):
                    return None  # the form-encoding check must read it (module docstring)
                scope.update(child)
                return stack
        return None


class HotApp(FastAPI):
    """FastAPI, with :class:`HotRoutes` taken first when set (``hot_routes``)."""

    hot_routes: HotRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot_routes
        stack = hot.find(scope) if hot is not None and not self._traced() else None
        if stack is None:
            await super().__call__(scope, receive, send)
            return
        if self.root_path:  # as FastAPI and Starlette set the scope up for their routes
            scope["root_path"] = self.root_path
        scope["app"] = self
        await stack(scope, receive, send)

    def _traced(self) -> bool:
        """Whether FastAPI's own telemetry is on (an OpenTelemetry provider configured for the
        process): then every request takes the whole app, so that none goes unobserved."""
        telemetry = getattr(self, "_native_telemetry", None)
        return bool(telemetry is not None and telemetry.enabled())
