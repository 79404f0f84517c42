"""Who calls a Matrix endpoint: the access token (header, or the deprecated ``access_token``
query parameter), its device, and the identity session it is.

The session is resolved as the pages' and the API's are (``deps.session_caller``: idle and
absolute timeouts, disabled accounts) and the credentials pass ``access.gate`` like any request's.
A token without a device is not a Matrix token (a browser's session cookie is not one): it
answers ``M_UNKNOWN_TOKEN``, as an expired or logged-out one does. The device is read in the
statement that finds the session (``auth.live_statement``): one statement per request, not two;
for a plainly active session it is a Core statement of the columns the caller is made of
(``identity.callers``, as the API's read routes), the ORM's rows only otherwise.
Nothing is cached: a logout, a deleted device, an ended session or a disabled account counts
from the next request on, on every node. (A pass of long-polls' first looks reads its sessions
with one statement, ``prefetch``, inside the read-only transaction the looks then run in: the
same snapshot each would have read alone.)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import route_need
from polaris.db.uow import transaction
from polaris.deps import (
    DbSession,
    Requester,
    get_instance,
    get_request_info,
    record_seen,
    session_caller_with,
)
from polaris.errors import MfaRequired, NotAuthenticated
from polaris.identity import callers
from polaris.identity.auth import live_statement
from polaris.identity.callers_repo import (
    plain_session_with,
    plain_sessions_with,
    prefetch_sessions,
)
from polaris.identity.models import UserSession
from polaris.identity.seen import Touch
from polaris.identity.tokens import digest
from polaris.matrix.models import MatrixDevice
from polaris.web.matrix_errors import MatrixError

UNKNOWN_TOKEN = "unknown or expired access token"  # noqa: S105 - a message, not a secret

#: A session's Matrix device id (NULL for a session that is not a Matrix login).
_DEVICE = (
    select(MatrixDevice.device_id)
    .where(MatrixDevice.session_id == UserSession.id)
    .scalar_subquery()
)
#: The session with its device, as the ORM's rows (the full way) and as Core's (the hot path
#: of every Matrix request: ``identity.callers``).
_WITH_DEVICE = live_statement(_DEVICE)
_PLAIN_WITH_DEVICE = plain_session_with(_DEVICE)
_PLAIN_MANY_WITH_DEVICE = plain_sessions_with(_DEVICE)


@dataclass(frozen=True)
class MatrixCaller:
    """The caller as ``access`` and the audit see it (``caller.actor``: the user's id and name
    among the rest), their device and their access token."""

    caller: Requester
    device_id: str
    token: str


def access_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("access_token") or None


def get_matrix_caller(request: Request, session: DbSession) -> MatrixCaller:
    return resolve(request, session)


def resolve(request: Request, session: Session, *, hold: bool = False) -> MatrixCaller:
    """The caller, its credentials passed through ``access.gate``. ``hold``: leave the read-only
    transaction open for the next ``transaction(session, read_only=True)`` *in the same thread
    call* (``/sync``'s first look): never across a wait for another thread, which would keep a
    pooled connection while waiting (200 syncs at once exhausted the pool that way). A due
    last-seen write ends it first (``record_seen``)."""
    token = required_token(request)
    with transaction(session, read_only=True, hold=hold):
        caller, touch = resolve_in(request, session, token)
    record_seen(session, touch)
    return caller


def required_token(request: Request) -> str:
    """The request's access token; 401 ``M_MISSING_TOKEN`` without one."""
    token = access_token(request)
    if token is None:
        raise MatrixError(401, "M_MISSING_TOKEN", "missing access token")
    return token


def prefetch(session: Session, tokens: Collection[str]) -> None:
    """Read the sessions of ``tokens`` with one statement, for the :func:`resolve_in` calls that
    follow in this session's read-only transaction (``matrix.sync_batch``: a pass's long-polls'
    first looks; each statement's own cost, not the database's, was most of a look)."""
    prefetch_sessions(
        session, [digest(token) for token in tokens], _PLAIN_MANY_WITH_DEVICE, _PLAIN_WITH_DEVICE
    )


def resolve_in(request: Request, session: Session, token: str) -> tuple[MatrixCaller, Touch | None]:
    """:func:`resolve` inside the caller's read-only transaction (one it shares with others:
    ``matrix.sync_batch``), and the last-seen write due, which the caller makes after the
    transaction (``deps.record_seen``)."""
    instance = get_instance(request)
    info = get_request_info(request)
    # Core rows for a plainly active session with a device (``identity.callers``); anything
    # else the full way, which refuses (and records an idle session ended) as it always did.
    found = callers.by_session(
        session, token, idle_timeout=instance.auth.idle_timeout, statement=_PLAIN_WITH_DEVICE
    )
    caller: Requester
    if found is not None and found.extra is not None:
        caller = Requester(actor=found.actor, session_id=found.session_id, request=info)
        touch, device = found.touch, found.extra
    else:
        try:
            caller, signed_in = session_caller_with(session, instance, token, info, _WITH_DEVICE)
        except (NotAuthenticated, MfaRequired):
            raise MatrixError(401, "M_UNKNOWN_TOKEN", UNKNOWN_TOKEN) from None
        touch, device = signed_in.touch, signed_in.extra
    request.state.user_id = caller.actor.user_id  # for the access log
    gate.require_credentials(
        session=session,
        actor=caller.actor,
        need=route_need(request.method),
        operation=f"{request.method} {request.url.path}",
        context=caller.context,
    )
    return MatrixCaller(caller=caller, device_id=str(device), token=token), touch


Matrix = Annotated[MatrixCaller, Depends(get_matrix_caller)]
