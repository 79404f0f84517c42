"""Error answers of WebDAV: plain text, the same for the same status (WsgiDAV middleware).

WsgiDAV's own ``ErrorPrinter`` answers an HTML page that names the path asked for, WsgiDAV's
version and the time to the microsecond. A 404 for a node another station holds and one for a
name nobody uses must be the same bytes (docs/security.md, "Side channels"), so this middleware
takes its place: a 404 is the status line alone; any other error adds the reason (``name_invalid:
a name cannot contain the invisible character U+202E``), which says nothing of hidden nodes; an
RFC 4918 precondition (a lock token missing, say) is its XML body, as WsgiDAV writes it.

As WsgiDAV's does, it holds the status until the first bytes of the answer: an error raised
before them (by the drive's checks when a GET opens the file) is still answered cleanly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from wsgidav.dav_error import DAVError, get_http_status_string
from wsgidav.mw.base_mw import BaseMiddleware

logger = logging.getLogger(__name__)


def error_body(error: DAVError) -> tuple[str, bytes]:
    status = get_http_status_string(error)
    text = status
    if error.value != 404 and error.context_info:
        text += f"\n{error.context_info}"
    return status, (text + "\n").encode("utf-8")


class PlainErrors(BaseMiddleware):  # type: ignore[misc]
    def __init__(self, wsgidav_app: Any, next_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, next_app, config)

    def is_disabled(self) -> bool:
        return False

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterator[bytes]:
        held: list[tuple[Any, ...]] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            held[:] = [(status, headers, exc_info)]

        started = False
        try:
            answer = self.next_app(environ, hold)
            try:
                for piece in answer:
                    if not started:
                        start_response(*held[0])
                        started = True
                    yield piece
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
            if not started:
                start_response(*held[0])
            return
        except DAVError as raised:
            error = raised
        except Exception:
            if started:
                raise  # the answer has begun: the server cuts it short
            logger.exception("WebDAV request failed")
            error = DAVError(500)
        if started:
            raise error
        if error.value in (304, 204):
            start_response(get_http_status_string(error), [("Content-Length", "0")])
            return
        status, body = error_body(error)
        content_type = "text/plain; charset=utf-8"
        if error.err_condition is not None:  # an RFC 4918 precondition, as XML
            content_type, body = error.get_response_page()
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            *(error.add_headers or []),
        ]
        start_response(status, headers)
        if error.add_body and environ.get("REQUEST_METHOD") != "HEAD":
            yield body
