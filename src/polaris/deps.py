"""Request dependencies: the instance, a database session, who is asking, and CSRF checks.

Authentication is either the ``polaris_session`` cookie (browser) or ``Authorization: Bearer``
with an API token (programs). Which of them a route takes, and the token scope it needs, is
declared by the caller dependency it uses (``CurrentCaller``, ``SessionCaller``,
``PasswordCaller``, ``AdminCaller``), decided by ``access`` and shown in the OpenAPI.

A state-changing request authenticated by cookie must carry the ``X-CSRF-Token`` header: an HMAC
of the session token under the instance's CSRF key, given to the page at sign-in (body and the
readable ``polaris_csrf`` cookie). A forged cookie cannot produce it, and SameSite=Strict cookies
are a second line.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy import Select
from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import SAFE_METHODS as SAFE_METHODS
from polaris.access.policy import Actor, Need, route_need
from polaris.access.routes import ADMINISTRATOR
from polaris.audit.context import AuditContext
from polaris.db.uow import transaction
from polaris.errors import NotAuthenticated, PermissionDenied
from polaris.identity import auth, callers, program_tokens
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.identity.models import User
from polaris.identity.seen import Touch
from polaris.instance import Instance

SESSION_COOKIE = "polaris_session"
CSRF_COOKIE = "polaris_csrf"
CSRF_HEADER = "x-csrf-token"


def get_instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request.

    ``async`` on purpose: making a session and closing it after its transactions have ended (each
    ``transaction()`` commits or rolls back and gives the connection back to the pool) do no I/O,
    and a synchronous generator would cost two trips to the thread pool on every request.
    """
    session = get_instance(request).sessions()
    try:
        yield session
    finally:
        session.close()


def get_request_info(request: Request) -> RequestInfo:
    return RequestInfo(
        source_address=request.client.host if request.client else None,
        client=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None),
    )


@dataclass(frozen=True)
class Requester:
    """The authenticated caller as ``access`` and the audit record see it: the actor, plus the
    session row id if any. What a read route needs (``ReadGate``)."""

    actor: Actor
    session_id: str | None
    request: RequestInfo

    @property
    def context(self) -> AuditContext:
        """Who acted and from where, for the audit record of what this request does."""
        return actor_context(self.actor, self.request)


@dataclass(frozen=True)
class Caller(Requester):
    """:class:`Requester` with the user's row (an ORM object), for the routes that change it or
    show it."""

    user: User


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return None


#: How the OpenAPI describes the two ways to authenticate. The scopes an operation lists under
#: ``token`` are what an API token needs for it; an operation without ``token`` takes none.
token_scheme = HTTPBearer(
    scheme_name="token",
    auto_error=False,
    description="An API token (`pol_…`) with the scopes `read`, `write` or `all`.",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    auto_error=False,
    description="A signed-in browser session; state changes also need `X-CSRF-Token`.",
)
TokenCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(token_scheme)]
SessionCookie = Annotated[str | None, Depends(session_scheme)]


def operation_of(request: Request) -> str:
    """What was asked, for the audit record of a refusal."""
    return f"{request.method} {request.url.path}"


def _authenticate(request: Request, session: Session) -> tuple[Caller, Touch | None]:
    """Who is calling (by token, else by session cookie), and the last-seen time to record if
    one is due; inside the caller's read-only transaction."""
    instance = get_instance(request)
    info = get_request_info(request)
    token = bearer_token(request)
    if token is not None:
        found = program_tokens.resolve_token(session=session, secret=token)
        actor = actor_for(
            session=session,
            user=found.user,
            auth_factors="token",
            token_scopes=frozenset(found.token.scopes),
            stamp=found.stamp,
        )
        return Caller(actor=actor, user=found.user, session_id=None, request=info), found.touch
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NotAuthenticated("sign in first", code="not_authenticated")
    if request.method not in SAFE_METHODS:
        check_csrf(request)
    return session_caller(session, instance, cookie, info)


def session_caller(
    session: Session, instance: Instance, token: str, info: RequestInfo
) -> tuple[Caller, Touch | None]:
    """Who is signed in with the session ``token`` (``NotAuthenticated`` when it is unknown or has
    expired), for the API's caller and for the pages' (``polaris.web.pages``) alike; with the
    session's last-seen time when it is due (``record_seen``)."""
    caller, signed_in = session_caller_with(session, instance, token, info)
    return caller, signed_in.touch


def session_caller_with(
    session: Session,
    instance: Instance,
    token: str,
    info: RequestInfo,
    statement: Select[*tuple[Any, ...]] | None = None,
) -> tuple[Caller, auth.SignedIn]:
    """As :func:`session_caller`, found with ``statement`` (``auth.live_statement``: a fact about
    the session read in the same statement, in ``SignedIn.extra``)."""
    if statement is None:
        signed_in = auth.resolve_session(session=session, config=instance.auth, token=token)
    else:
        signed_in = auth.resolve_session(
            session=session, config=instance.auth, token=token, statement=statement
        )
    row, user = signed_in.row, signed_in.user
    actor = actor_for(
        session=session,
        user=user,
        auth_factors=row.auth_factors,
        session_id=row.id,
        stamp=signed_in.stamp,
    )
    return Caller(actor=actor, user=user, session_id=row.id, request=info), signed_in


def record_seen(session: Session, touch: Touch | None) -> None:
    """Write a due last-seen time in a short write transaction of its own (at most once a minute
    per session or token: ``polaris.identity.seen``). A held read-only transaction ends first."""
    if touch is not None:
        with transaction(session):
            touch.apply(session)


def _caller(
    request: Request, session: Session, need: Need, *, admin: bool = False, hold: bool = False
) -> Caller:
    """Authenticate, then ask ``access`` whether these credentials may do what the route needs
    (a refusal is audited there, in a write transaction after the rollback).

    Read-only: the caller is resolved in a transaction that takes no write lock (SQLite), and
    with ``hold`` that transaction is left open for the route's own reads (``ReadCaller``).
    """
    with transaction(session, read_only=True, hold=hold):
        caller, touch = _authenticate(request, session)
        _decide(request, session, caller, need, admin=admin)
    record_seen(session, touch)
    return caller


def _decide(
    request: Request, session: Session, caller: Requester, need: Need, *, admin: bool = False
) -> None:
    """``access``'s decision on the credentials (audited there when it refuses)."""
    request.state.user_id = caller.actor.user_id  # for the access log, refused or not
    if admin:
        gate.require_admin(
            session=session,
            actor=caller.actor,
            operation=operation_of(request),
            context=caller.context,
            changes=request.method not in SAFE_METHODS,
        )
    else:
        gate.require_credentials(
            session=session,
            actor=caller.actor,
            need=need,
            operation=operation_of(request),
            context=caller.context,
        )


def _plain_authenticate(
    request: Request, session: Session
) -> tuple[Requester, Touch | None] | None:
    """:func:`_authenticate` in SQLAlchemy Core (``identity.callers``) for a plainly valid token
    or session of a read (a safe method: no CSRF token to check); None for anything else, which
    :func:`_authenticate` then resolves or refuses exactly as it always did."""
    if request.method not in SAFE_METHODS:
        return None
    token = bearer_token(request)
    if token is not None:
        found = callers.by_token(session, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        idle = get_instance(request).auth.idle_timeout
        found = callers.by_session(session, cookie, idle_timeout=idle)
    if found is None:
        return None
    info = get_request_info(request)
    return Requester(actor=found.actor, session_id=found.session_id, request=info), found.touch


def _plain_caller(request: Request, session: Session, need: Need) -> Requester:
    """:func:`_caller` for a read route (``hold``), the caller resolved in Core when it can be
    (:func:`_plain_authenticate`), else the full way; the same ``access`` decision either way."""
    with transaction(session, read_only=True, hold=True):
        found = _plain_authenticate(request, session)
        caller, touch = found if found is not None else _authenticate(request, session)
        _decide(request, session, caller, need)
    record_seen(session, touch)
    return caller


def get_caller(
    request: Request,
    scopes: SecurityScopes,
    session: Annotated[Session, Depends(get_session)],
    _token: TokenCredentials,
    _cookie: SessionCookie,
) -> Caller:
    """The caller of a route that takes a session or a token: the token needs the scope the route
    declares (``Security(get_caller, scopes=[...])``), else ``read`` for GET and HEAD and
    ``write`` for anything else (``access.policy.route_need``)."""
    return _caller(request, session, route_need(request.method, scopes.scopes))


def get_read_caller(
    request: Request,
    scopes: SecurityScopes,
    session: Annotated[Session, Depends(get_session)],
    _token: TokenCredentials,
    _cookie: SessionCookie,
) -> Caller:
    """As :func:`get_caller`, for a route that only reads: the caller's read-only transaction is
    held open, and the route's ``transaction(session, read_only=True)`` goes on in it (one
    snapshot, one ``BEGIN``, no write lock). A route that writes after all may still open a write
    transaction: the held one then ends first (``polaris.db.uow``)."""
    return _caller(request, session, route_need(request.method, scopes.scopes), hold=True)


P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class ReadGate:
    """A read route's caller and session, in the route's own trip to the thread pool.

    FastAPI runs a synchronous dependency and a synchronous route in two trips to the thread
    pool (about 120 µs of CPU and 300 µs of wall time each on the 2-core test machine), and
    solves every dependency of a route on every request (a session made by an ``async``
    generator costs an exit stack). A route that takes a ``ReadGate`` is ``async`` and makes one
    trip, :meth:`run`, which opens the request's session, authenticates and decides (as
    :func:`get_read_caller`, the caller read in SQLAlchemy Core when it can be:
    :func:`_plain_caller`), then calls the route's reads with the caller and the session, in the
    held read-only transaction, and closes the session. The session exists only inside
    :meth:`run`, so a route cannot read before the caller is decided.
    """

    request: Request
    need: Need

    def run(
        self,
        reads: Callable[Concatenate[Requester, Session, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``reads(caller, session, *args, **kwargs)`` once the caller is decided."""
        session = get_instance(self.request).sessions()
        try:
            caller = _plain_caller(self.request, session, self.need)
            return reads(caller, session, *args, **kwargs)
        finally:
            session.close()


async def get_read_gate(
    request: Request,
    scopes: SecurityScopes,
    _token: TokenCredentials,
    _cookie: SessionCookie,
) -> ReadGate:
    """:class:`ReadGate` for a read route: the same credentials and scopes as
    :func:`get_read_caller` (the OpenAPI shows the same), decided when the route runs it."""
    return ReadGate(request, route_need(request.method, scopes.scopes))


def get_session_caller(
    request: Request, session: Annotated[Session, Depends(get_session)], _cookie: SessionCookie
) -> Caller:
    """The caller of a route that needs a signed-in session: an API token is refused."""
    return _caller(request, session, Need.SESSION)


def get_password_caller(
    request: Request, session: Annotated[Session, Depends(get_session)], _cookie: SessionCookie
) -> Caller:
    """The caller of the password change: a session, also while a password change is due."""
    return _caller(request, session, Need.PASSWORD_CHANGE)


def refuse_token(request: Request) -> None:
    """For the sign-in steps, which take a password or a sign-in cookie and never a token."""
    if bearer_token(request) is not None:
        raise PermissionDenied(gate.REFUSALS["token_not_allowed"], code="token_not_allowed")


def csrf_token_for(instance: Instance, session_token: str) -> str:
    return hmac.new(instance.csrf_key, session_token.encode(), "sha256").hexdigest()


def set_session_cookies(response: Response, instance: Instance, session_token: str) -> str:
    """Set the session cookie and the readable CSRF cookie; return the CSRF token."""
    secure = instance.settings.session.cookie_secure
    csrf = csrf_token_for(instance, session_token)
    response.set_cookie(
        SESSION_COOKIE, session_token, httponly=True, secure=secure, samesite="strict", path="/"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=False, secure=secure, samesite="strict", path="/"
    )
    return csrf


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def check_csrf(request: Request) -> None:
    session_token = request.cookies.get(SESSION_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    expected = csrf_token_for(get_instance(request), session_token)
    if not session_token or not hmac.compare_digest(expected, header):
        raise PermissionDenied("missing or wrong CSRF token", code="csrf_failed")


def get_admin(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    _token: Annotated[
        HTTPAuthorizationCredentials | None, Security(token_scheme, scopes=[Need.ALL.value])
    ],
    _cookie: Annotated[str | None, Security(session_scheme, scopes=[ADMINISTRATOR])],
) -> Caller:
    """An administrator (``access.gate.require_admin``); a token needs the ``all`` scope.

    The OpenAPI lists ``all`` under ``token`` and the role ``administrator`` under ``session``
    (OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs).
    """
    return _caller(request, session, Need.ALL, admin=True)


DbSession = Annotated[Session, Depends(get_session)]
CurrentCaller = Annotated[Caller, Security(get_caller)]
ReadCaller = Annotated[Caller, Security(get_read_caller)]
ReadGated = Annotated[ReadGate, Security(get_read_gate)]
SessionCaller = Annotated[Caller, Depends(get_session_caller)]
PasswordCaller = Annotated[Caller, Depends(get_password_caller)]
AdminCaller = Annotated[Caller, Depends(get_admin)]
NoToken = Depends(refuse_token)


async def _instance_dependency(request: Request) -> Instance:
    """:func:`get_instance` as a dependency: ``async`` because it does no I/O (a synchronous
    dependency costs a trip to the thread pool on every request that asks for it)."""
    return get_instance(request)


async def _request_info_dependency(request: Request) -> RequestInfo:
    """:func:`get_request_info` as a dependency, ``async`` for the same reason."""
    return get_request_info(request)


Info = Annotated[RequestInfo, Depends(_request_info_dependency)]
CurrentInstance = Annotated[Instance, Depends(_instance_dependency)]
