"""WebDAV inside Polaris's ASGI app: requests under the WebDAV addresses go to the WsgiDAV app
through a2wsgi's WSGI bridge; every other request goes on to the app's routes.

An ASGI layer rather than Starlette's ``Mount``: a mount answers ``/dav`` (no slash) with a
redirect to ``/dav/``, which Windows' WebDAV client does not follow for PROPFIND. It sits inside
Polaris's request-id, log and body-limit layers (so WebDAV requests are logged and exempt from the
JSON body limit like uploads) and outside the form-encoding check, which reads form bodies ahead
and must never hold a PUT's body.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from polaris.dav.server import SERVED, make_dav_app
from polaris.instance import Instance

#: Threads of the bridge: WebDAV requests served at once by one process.
THREADS = 16


def under(path: str, prefixes: tuple[str, ...] = SERVED) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


class DavDispatch:
    def __init__(self, app: ASGIApp, instance: Instance) -> None:
        self.app = app
        self.bridge: Any = WSGIMiddleware(make_dav_app(instance), workers=THREADS)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and under(scope["path"]):
            await self.bridge(scope, receive, send)
            return
        await self.app(scope, receive, send)
