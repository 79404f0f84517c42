"""Request dependencies: the instance, a database session, who is asking, and CSRF checks.

Authentication is either the ``polaris_session`` cookie (browser) or ``Authorization: Bearer``
with an API token (programs). A state-changing request authenticated by cookie must carry the
``X-CSRF-Token`` header: an HMAC of the session token under the instance's CSRF key, given to the
page at sign-in (body and the readable ``polaris_csrf`` cookie). A forged cookie cannot produce
it, and SameSite=Strict cookies are a second line.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.db.uow import transaction
from polaris.errors import NotAuthenticated, PermissionDenied
from polaris.identity import api_tokens, auth
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.identity.models import User
from polaris.instance import Instance

SESSION_COOKIE = "polaris_session"
CSRF_COOKIE = "polaris_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
class Caller:
    """The authenticated caller: the actor for ``access``, plus the session row id if any."""

    actor: Actor
    user: User
    session_id: str | None
    request: RequestInfo

    @property
    def context(self) -> AuditContext:
        """Who acted and from where, for the audit record of what this request does."""
        return actor_context(self.actor, self.request)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return None


def get_caller(request: Request, session: Annotated[Session, Depends(get_session)]) -> Caller:
    instance = get_instance(request)
    info = get_request_info(request)
    token = bearer_token(request)
    with transaction(session):
        if token is not None:
            api_token, user = api_tokens.resolve_token(session=session, secret=token)
            actor = actor_for(
                session=session,
                user=user,
                auth_factors="token",
                token_scopes=frozenset(api_token.scopes),
            )
            caller = Caller(actor=actor, user=user, session_id=None, request=info)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                raise NotAuthenticated("sign in first", code="not_authenticated")
            if request.method not in SAFE_METHODS:
                check_csrf(request)
            row, user = auth.resolve_session(session=session, config=instance.auth, token=cookie)
            actor = actor_for(
                session=session, user=user, auth_factors=row.auth_factors, session_id=row.id
            )
            caller = Caller(actor=actor, user=user, session_id=row.id, request=info)
    request.state.user_id = caller.user.id
    return caller


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


def get_admin(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    if not caller.actor.is_admin:
        raise PermissionDenied("administrators only", code="admin_required")
    return caller


DbSession = Annotated[Session, Depends(get_session)]
CurrentCaller = Annotated[Caller, Depends(get_caller)]
AdminCaller = Annotated[Caller, Depends(get_admin)]
Info = Annotated[RequestInfo, Depends(get_request_info)]
CurrentInstance = Annotated[Instance, Depends(get_instance)]
