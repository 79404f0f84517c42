"""Pure ASGI middleware: request ids and access logs, security headers, request size limits.

Written as ASGI callables rather than ``BaseHTTPMiddleware`` so that streamed bodies (uploads,
downloads) pass through without being buffered.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polaris.web import matrix_errors
from polaris.web.logs import request_id_var
from polaris.web.problems import PROBLEM_JSON

log = logging.getLogger("polaris.access_log")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class RequestContextMiddleware:
    """Give each request an id, add security headers, and write one JSON access-log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        # Every line logged while serving the request carries its id.
        request_id_token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {}
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if https:
                    headers.append(HSTS)
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            state = scope.get("state", {})
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status_holder.get("status", 500),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": state.get("user_id"),
                    "client_ip": (scope.get("client") or (None,))[0],
                },
            )
            request_id_var.reset(request_id_token)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes (413), by header or while streaming.

    Paths under ``streaming_prefixes`` (file uploads) are exempt; their routes stream to storage.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, streaming_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        self.streaming_prefixes = streaming_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(
            self.streaming_prefixes
        ):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _send_too_large(send, self.limit, scope)
            return
        received = 0
        rejected = False
        response_started = False

        async def limited_receive() -> Message:
            # Past the limit, answer 413 at once and tell the app the client went away; whatever
            # the app then tries to send is dropped.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    rejected = True
                    if not response_started:
                        await _send_too_large(send, self.limit, scope)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not rejected:
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send: Send, limit: int, scope: Scope) -> None:
    body: dict[str, Any] = {
        "type": "urn:polaris:error:payload_too_large",
        "title": "payload_too_large",
        "status": 413,
        "code": "payload_too_large",
        "detail": f"the request body is larger than {limit} bytes",
    }
    payload = json.dumps(body).encode()
    content_type = PROBLEM_JSON
    if matrix_errors.is_matrix(str(scope.get("path", ""))):
        payload, content_type = matrix_errors.too_large_body(limit), "application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class MatrixCorsMiddleware:
    """CORS for the Matrix API: Element Web runs on an origin of its own and authenticates with
    a bearer token (never a cookie), so every origin may call ``/_matrix`` and read
    ``/.well-known/matrix``; a preflight ``OPTIONS`` is answered here."""

    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, DELETE, OPTIONS"),
        (
            b"access-control-allow-headers",
            b"X-Requested-With, Content-Type, Authorization, Date",
        ),
        (b"access-control-expose-headers", b"ETag, Content-Disposition"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not matrix_errors.is_matrix(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": self.HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        await self.app(scope, receive, with_cors)
