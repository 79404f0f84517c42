"""Who is calling WebDAV, and whether they may: in front of WsgiDAV, for every request.

- Only over HTTPS (``wsgi.url_scheme``, which Polaris takes from a proxy listed in
  ``http.trusted_proxies``), unless ``dav.allow_plain_http``: Basic authentication sends the
  password with every request.
- HTTP Basic with the username and an **app password** (``identity.app_passwords``): a sign-in
  password is refused like a wrong one, whatever the role, so an account whose role needs MFA
  is never opened by its password alone. A failure is throttled and audited like a failed
  sign-in (401, or 429 while throttled; ``identity.app_passwords`` says which counters).
- The app password's scope is the actor's token scope: ``read`` may PROPFIND and GET only
  (``access.gate`` refuses the rest with 403, audited; ``access.policy`` would refuse them per
  object anyway).
- PROPFIND with ``Depth: infinity`` is refused (403 ``propfind-finite-depth``): one request
  must not walk a whole space.
- While the incident switch is on (``polaris.incident``), every write is refused with 503.

Each request gets a database session of its own (closed when the response has been sent) and the
caller as a ``DavRequest`` in the WSGI environ (``dav.context``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import Need
from polaris.dav import chunking, locks, nextcloud, provider, upload_guards
from polaris.dav.context import ENVIRON_KEY, DavRequest
from polaris.db.uow import transaction
from polaris.drive import stamps
from polaris.errors import NotAuthenticated, PermissionDenied, Throttled
from polaris.identity import app_passwords
from polaris.identity.actors import RequestInfo, actor_context
from polaris.incident.service import CachedState
from polaris.instance import Instance
from polaris.web.logs import request_id_var

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: Methods that only read; any other needs a ``write`` app password.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"})
REALM = "Polaris"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
#: The answer to OPTIONS without credentials (and to ``OPTIONS /``: ``polaris.app``).
OPTIONS_HEADERS = (
    ("DAV", "1, 2"),
    ("MS-Author-Via", "DAV"),
    (
        "Allow",
        "OPTIONS, GET, HEAD, PROPFIND, PROPPATCH, PUT, DELETE, MKCOL, COPY, MOVE, LOCK, UNLOCK",
    ),
)
#: RFC 4918 §9.1: PROPFIND with ``Depth: infinity`` (or none, which means infinity) is refused.
FINITE_DEPTH = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n'
)


def _plain(
    start_response: StartResponse, status: str, text: str, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    body = (text + "\n").encode("utf-8")
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
    )
    return [body]


def basic_credentials(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(username, password) of an ``Authorization: Basic`` header, None without a usable one."""
    scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon or not username or not password:
        return None
    return username, password


class DavGate:
    """The WSGI app mounted in front of WsgiDAV (``dav.server``)."""

    def __init__(self, instance: Instance, dav: WsgiApp) -> None:
        self.instance = instance
        self.dav = dav
        self.incident = CachedState(instance.read_sessions)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # WsgiDAV routes by the whole path (``/dav``, ``/remote.php/dav/files``).
        environ["PATH_INFO"] = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        environ["SCRIPT_NAME"] = ""
        path = str(environ["PATH_INFO"])
        if path == nextcloud.STATUS_PATH:
            return nextcloud.status(start_response)
        settings = self.instance.settings.dav
        if environ.get("wsgi.url_scheme") != "https" and not settings.allow_plain_http:
            return _plain(start_response, "403 Forbidden", "WebDAV is served over HTTPS only")
        method = str(environ.get("REQUEST_METHOD", "")).upper()
        if method not in READ_METHODS and self.incident.get() is not None:
            return _plain(
                start_response,
                "503 Service Unavailable",
                "Polaris is read-only during incident response; reading still works",
            )
        credentials = basic_credentials(environ)
        if credentials is None and path.startswith(nextcloud.OCS_PREFIX):
            return nextcloud.ocs(environ, start_response, None)  # capabilities need no sign-in
        if credentials is None and method == "OPTIONS":
            # What the server speaks, the same for every path: Windows asks before it signs in.
            return _plain(start_response, "200 OK", "", OPTIONS_HEADERS)
        if credentials is None:
            return _plain(
                start_response,
                "401 Unauthorized",
                "sign in with your username and an app password",
                [("WWW-Authenticate", CHALLENGE)],
            )
        session = self.instance.sessions()
        try:
            request = self._authenticate(environ, session, method, *credentials)
        except Throttled as error:
            session.close()
            return _plain(
                start_response,
                "429 Too Many Requests",
                "too many failed attempts; wait and try again",
                [("Retry-After", str(max(1, int(error.retry_after))))],
            )
        except NotAuthenticated:
            session.close()
            return _plain(
                start_response,
                "401 Unauthorized",
                "wrong username or app password",
                [("WWW-Authenticate", CHALLENGE)],
            )
        except PermissionDenied as error:
            session.close()
            return _plain(start_response, "403 Forbidden", error.detail)
        except BaseException:
            session.close()
            raise
        if path.startswith(nextcloud.OCS_PREFIX):
            try:
                return nextcloud.ocs(environ, start_response, request)
            finally:
                request.session.close()
        environ[ENVIRON_KEY] = request
        if under(path, (chunking.PREFIX,)):
            environ[upload_guards.LOCKS_KEY] = getattr(self.dav, "lock_manager", None)
            return self._respond(environ, start_response, request, chunking.handle)
        if method == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").lower() == "infinity":
            request.session.close()
            start_response(
                "403 Forbidden",
                [
                    ("Content-Type", "application/xml; charset=utf-8"),
                    ("Content-Length", str(len(FINITE_DEPTH))),
                ],
            )
            return [FINITE_DEPTH]
        environ[ENVIRON_KEY] = request
        environ["wsgidav.auth.realm"] = REALM
        environ["wsgidav.auth.user_name"] = request.username
        return self._respond(environ, start_response, request)

    def _authenticate(
        self, environ: dict[str, Any], session: Session, method: str, username: str, secret: str
    ) -> DavRequest:
        info = RequestInfo(
            source_address=environ.get("REMOTE_ADDR"),
            client=environ.get("HTTP_USER_AGENT"),
            request_id=request_id_var.get(),
        )
        # Held (``uow.transaction``): the spaces and the path this request reads next go on in
        # the same read snapshot, not a transaction each.
        with transaction(session, read_only=True, hold=True):
            device = app_passwords.resolve(
                session=session,
                config=self.instance.auth,
                username=username,
                secret=secret,
                request=info,
            )
            actor = device.actor
            context = actor_context(actor, info)
            gate.require_credentials(
                session=session,
                actor=actor,
                need=Need.READ if method in READ_METHODS else Need.WRITE,
                operation=f"{method} {environ['PATH_INFO']}",
                context=context,
            )
        if device.touch_due or device.failures_to_clear:
            with transaction(session):
                app_passwords.touch(session, device.password_id)
                if device.failures_to_clear:
                    app_passwords.clear_failures(session, device.username, info.source_address)
        return DavRequest(instance=self.instance, session=session, actor=actor, context=context)

    def _respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        request: DavRequest,
        app: WsgiApp | None = None,
    ) -> Iterator[bytes]:
        """WsgiDAV does its work while its answer is iterated; the session lives until then."""
        provider.serving(request.username)
        try:
            with locks.serving():
                answer = (app or self.dav)(environ, _with_upload_headers(start_response, request))
                try:
                    yield from answer
                finally:
                    close = getattr(answer, "close", None)
                    if close is not None:
                        close()
        finally:
            provider.serving(None)
            request.session.close()


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def _with_upload_headers(start_response: StartResponse, request: DavRequest) -> StartResponse:
    """A successful upload answers with the Nextcloud headers the sync clients record:
    ``OC-ETag``, ``OC-FileId`` and, when its ``X-OC-Mtime`` was kept, ``X-OC-MTime: accepted``."""

    def start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
        written = request.written
        if written is not None and status[:1] == "2":
            etag = stamps.etag_seen(written.node, request.actor.clearance)
            headers = [
                *headers,
                *nextcloud.upload_headers(
                    written.node.id, etag, mtime_accepted=request.mtime_accepted
                ),
            ]
        return start_response(status, headers, *rest)

    return start
