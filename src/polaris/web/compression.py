"""gzip for the text the app writes itself (pages, stylesheets, scripts, JSON), for slow links.

An allow-list, not Starlette's ``GZipMiddleware`` deny-list: a file someone stored is never
compressed on the way out (a ``text/plain`` or ``.csv`` download keeps its bytes, length and
ETag, so resumed downloads and WebDAV clients see exactly what was stored), nor is anything
that is already compressed (images, PDFs, archives). A response is left alone when it names
itself a download (``Content-Disposition``), answers a range (``206``, ``Content-Range``) or is
already encoded; requests with ``Range`` and the WebDAV and upload paths pass straight through.

A page carries the form's CSRF token; compressing it next to text an attacker chooses (a search
query) would let them guess it from response sizes (BREACH), so ``polaris.web.pages`` masks the
token afresh for every response.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Media types the app itself produces as text.
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "image/svg+xml",
    }
)
#: Below this, gzip's header and the CPU cost more than they save.
MINIMUM_SIZE = 1024
LEVEL = 6


class CompressionMiddleware:
    """gzip eligible responses for clients that accept it (pure ASGI: streams pass through)."""

    def __init__(
        self, app: ASGIApp, *, skip_prefixes: tuple[str, ...] = (), minimum_size: int = MINIMUM_SIZE
    ) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes
        self.minimum_size = minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        if "range" in request or not _accepts_gzip(request.get("accept-encoding", "")):
            await self.app(scope, receive, send)
            return
        await _Compressor(send, self.minimum_size).run(self.app, scope, receive)


def _accepts_gzip(header: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip;q=0`` refuses it)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            quality = params.strip().lower()
            return not (quality.startswith("q=") and quality[2:].strip() in ("0", "0.0", "0.00"))
    return False


def eligible(status: int, headers: Headers) -> bool:
    """Whether a response with these headers may be compressed."""
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    return (
        media in COMPRESSIBLE
        and status not in (204, 206, 304)
        and "content-encoding" not in headers
        and "content-range" not in headers
        and "content-disposition" not in headers
    )


def _vary_on_encoding(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The header pairs with ``Accept-Encoding`` added to ``Vary`` (every earlier ``Vary`` value
    kept, in one header), as Starlette's ``add_vary_header``, on the raw pairs: ``MutableHeaders``
    rebuilt its list for each change (a few per cent of a small answer's CPU)."""
    pairs = list(raw)
    vary = [value for key, value in pairs if key.lower() == b"vary"]
    kept = [(key, value) for key, value in pairs if key.lower() != b"vary"]
    return [*kept, (b"vary", b", ".join([*vary, b"Accept-Encoding"]))]


class _Compressor:
    """One response: holds the start until the first body part decides."""

    def __init__(self, send: Send, minimum_size: int) -> None:
        self.send = send
        self.minimum_size = minimum_size
        self.start: Message | None = None
        self.compressing = False
        self.passing = False
        # Made when the first body part is packed: making one costs about 50 µs (zlib's state
        # is allocated and set up), and most answers are small or not text and never packed.
        self._zipper: zlib._Compress | None = None

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        await app(scope, receive, self.on_message)

    async def on_message(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if eligible(message["status"], Headers(raw=message.get("headers", []))):
                self.start = message
            else:
                self.passing = True
                await self.send(message)
            return
        if kind != "http.response.body" or self.passing:
            if self.start is not None:  # not a body after all: send as it came
                await self.send(self.start)
                self.start, self.passing = None, True
            await self.send(message)
            return
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if self.start is None:  # a later part of a compressed stream
            packed = self._pack(body, more)
            await self.send({"type": "http.response.body", "body": packed, "more_body": more})
            return
        start, self.start = self.start, None
        raw = _vary_on_encoding(start.get("headers", []))
        start["headers"] = raw
        if not more and len(body) < self.minimum_size:
            self.passing = True
            await self.send(start)
            await self.send(message)
            return
        # The ETag stays: it names the content, and API clients send it back in If-Match.
        packed = self._pack(body, more)
        raw = [(k, v) for k, v in raw if k.lower() != b"content-length"]
        raw.append((b"content-encoding", b"gzip"))
        if not more:
            raw.append((b"content-length", str(len(packed)).encode()))
        start["headers"] = raw
        await self.send(start)
        await self.send({"type": "http.response.body", "body": packed, "more_body": more})

    def _pack(self, body: bytes, more: bool) -> bytes:
        if more:
            return self.zipper.compress(body) + self.zipper.flush(zlib.Z_SYNC_FLUSH)
        return self.zipper.compress(body) + self.zipper.flush()

    @property
    def zipper(self) -> zlib._Compress:
        if self._zipper is None:
            self._zipper = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return self._zipper
