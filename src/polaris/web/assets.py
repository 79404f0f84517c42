"""Static files by versioned address: ``/static/app.3f2a1b9c0d4e.css`` is ``app.css`` whose
content hashes to ``3f2a1b9c0d4e``. Pages link the versioned address (``url``), so a browser may
keep the file a year without asking again (``Cache-Control: immutable``): on a slow link a page
then costs only its HTML. A new release changes the content, so the address, so nobody keeps an
old stylesheet.

The plain address (``/static/app.css``) still works, revalidated on every use (``no-cache``,
with the ETag StaticFiles sends); so does an address with a hash that is no longer current (a
page cached from before an upgrade), served the same way rather than failing.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static/"
FOREVER = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
#: ``name.<12 hex>.ext``: the hash sits before the last suffix.
_VERSIONED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


@functools.cache
def digest(name: str) -> str | None:
    """The content hash of static file ``name`` (a path below ``static/``), None if absent.
    Read once per process: the files do not change while it runs."""
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def url(name: str) -> str:
    """The versioned address of static file ``name`` (``"app.css"``, ``"js/chat.js"``)."""
    found = digest(name)
    if found is None:
        raise ValueError(f"no static file {name!r}")
    stem, _, suffix = name.rpartition(".")
    return f"{PREFIX}{stem}.{found}.{suffix}"


def unversioned(name: str) -> tuple[str, bool]:
    """The file a requested name means and whether the hash in it is the current one."""
    match = _VERSIONED.match(name)
    if match is None:
        return name, False
    plain = match["stem"] + match["suffix"]
    return plain, digest(plain) == match["hash"]


class VersionedStatic:
    """Around the StaticFiles app mounted at ``/static``: strips the hash from the path and sets
    the caching header (a year for the current version, revalidation otherwise)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        name = path[len(root) :] if root and path.startswith(root) else path
        name = name.lstrip("/")
        if name.startswith("static/"):
            name = name[len("static/") :]
        plain, current = unversioned(name)
        if plain != name:
            scope = {**scope, "path": path[: len(path) - len(name)] + plain}

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 206, 304):
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                message["headers"] = headers.raw
                headers["cache-control"] = (FOREVER if current else REVALIDATE).decode()
            await send(message)

        await self.app(scope, receive, send_cached)
