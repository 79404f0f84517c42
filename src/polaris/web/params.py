"""Types for values that come from outside (path, query, form and JSON fields).

Each type refuses, as a 422 before any route runs, what the layers below cannot hold: the
database's integer columns, instants whose conversion to UTC leaves ``datetime``'s range, days the
search engines cannot represent. Route parameters and request schemas use these instead of bare
``int``, ``datetime`` or ``date``, so an out-of-range value is a client error, never a 500.
``refuse_undecodable_url`` (a dependency of every route) refuses URLs and URL-encoded forms that
are not UTF-8.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from urllib.parse import unquote_to_bytes

from pydantic import AfterValidator, AwareDatetime, Field
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polaris.errors import PolarisError

#: The largest row id: ids are INTEGER columns, 32-bit on PostgreSQL (SQLite's hold 64 bits).
MAX_ID = 2**31 - 1
#: The largest value of a BIGINT column (sizes, quotas, offsets, audit sequence numbers).
MAX_INT64 = 2**63 - 1
#: The days a request may name. Tantivy stores instants as 64-bit nanoseconds since 1970,
#: which reach from 1677-09-21 to 2262-04-11; a whole day on either side is kept free.
FIRST_DAY = dt.date(1678, 1, 1)
LAST_DAY = dt.date(2261, 12, 31)

Id = Annotated[int, Field(ge=1, le=MAX_ID, description="The id of a stored row")]
"""The id of a stored row (node, version, share, token, space, group, unit, user, job)."""

Seq = Annotated[int, Field(ge=1, le=MAX_INT64, description="A position in a 64-bit sequence")]
"""A position in a BIGINT sequence, such as an audit record's ``seq``."""

Position = Annotated[
    int,
    Field(ge=0, le=MAX_INT64, description="A position in the change stream; 0 is before the first"),
]
"""A position in the change stream as a client holds it: 0 (before the first change) or one the
server gave out (``GET /api/v1/changes``)."""


def _as_utc(value: dt.datetime) -> dt.datetime:
    """The same instant in UTC; ValueError when UTC cannot hold it (9999-12-31T23:00-23:59)."""
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("the instant is outside the years 1 to 9999 in UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""An instant with a time zone, handed on in UTC; one that UTC cannot hold is refused."""

Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY)]
"""A calendar day from outside (a search filter, a share's last day) that every store and search
engine can turn into an instant, the day after included."""


#: Set in the ASGI scope's state by ``FormEncodingMiddleware`` for a form that is not UTF-8.
FORM_NOT_UTF8 = "polaris_form_not_utf8"
_URLENCODED = b"application/x-www-form-urlencoded"


#: A percent escape of a byte over 0x7F: only such bytes can make a URL's text not UTF-8.
_HIGH_ESCAPE = re.compile(rb"%[89a-fA-F]")


def _is_percent_encoded_utf8(raw: bytes) -> bool:
    if raw.isascii() and _HIGH_ESCAPE.search(raw) is None:
        return True  # ASCII once decoded: the common case, without decoding it
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def refuse_undecodable_url(request: HTTPConnection) -> None:
    """Refuse a path, query string or URL-encoded form whose bytes are not UTF-8 (400).

    Starlette decodes them leniently, replacing each bad byte with U+FFFD, so ``?name=%FF`` would
    reach a route as a name that is not what the client sent, and be stored. This dependency runs
    for every route, before authentication and before the route; ``async`` because it does no
    I/O and so needs no trip to the thread pool. It takes a connection, so that WebSocket routes
    (which have no ``Request``) pass through it too. A form was read before any dependency runs, so
    ``FormEncodingMiddleware`` checks its raw bytes and leaves a mark in the scope.
    """
    scope = request.scope
    raw_parts = (scope.get("raw_path") or b"", scope.get("query_string") or b"")
    form_not_utf8 = scope.get("state", {}).get(FORM_NOT_UTF8, False)
    if form_not_utf8 or not all(_is_percent_encoded_utf8(raw) for raw in raw_parts):
        raise PolarisError(
            "the request holds percent-encoded bytes that are not UTF-8", code="invalid_utf8"
        )


class FormEncodingMiddleware:
    """Check a URL-encoded form body's raw bytes, then hand the same body on.

    Only ``application/x-www-form-urlencoded`` bodies are read ahead (pages' forms: small, and
    capped by ``BodyLimitMiddleware`` outside this one); every other body streams through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_urlencoded(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        first: Message = {"type": "http.request", "body": b"", "more_body": False}
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message  # the client went away: the app sees that
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        if first["type"] == "http.request" and not _is_percent_encoded_utf8(first["body"]):
            scope.setdefault("state", {})[FORM_NOT_UTF8] = True
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return first

        await self.app(scope, replay, send)


def is_urlencoded(scope: Scope) -> bool:
    """Whether the request declares a URL-encoded form body (what this module's middleware
    reads ahead)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == _URLENCODED)
    return False
