"""Who calls a Matrix endpoint: the access token (header, or the deprecated ``access_token``
query parameter), its device, and the identity session it is.

The session is resolved as the pages' and the API's are (``deps.session_caller``: idle and
absolute timeouts, disabled accounts) and the credentials pass ``access.gate`` like any request's.
A token without a device is not a Matrix token (a browser's session cookie is not one): it
answers ``M_UNKNOWN_TOKEN``, as an expired or logged-out one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from polaris.access import gate
from polaris.access.policy import route_need
from polaris.db.uow import transaction
from polaris.deps import Caller, DbSession, get_instance, get_request_info, record_seen
from polaris.deps import session_caller as resolve_session_caller
from polaris.errors import MfaRequired, NotAuthenticated
from polaris.matrix.devices import device_of_token
from polaris.web.matrix_errors import MatrixError

UNKNOWN_TOKEN = "unknown or expired access token"  # noqa: S105 - a message, not a secret


@dataclass(frozen=True)
class MatrixCaller:
    caller: Caller
    device_id: str
    token: str


def access_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("access_token") or None


def get_matrix_caller(request: Request, session: DbSession) -> MatrixCaller:
    token = access_token(request)
    if token is None:
        raise MatrixError(401, "M_MISSING_TOKEN", "missing access token")
    instance = get_instance(request)
    info = get_request_info(request)
    with transaction(session, read_only=True):
        device = device_of_token(session, token)
        if device is None:
            raise MatrixError(401, "M_UNKNOWN_TOKEN", UNKNOWN_TOKEN)
        try:
            caller, touch = resolve_session_caller(session, instance, token, info)
        except (NotAuthenticated, MfaRequired):
            raise MatrixError(401, "M_UNKNOWN_TOKEN", UNKNOWN_TOKEN) from None
        request.state.user_id = caller.user.id  # for the access log
        gate.require_credentials(
            session=session,
            actor=caller.actor,
            need=route_need(request.method),
            operation=f"{request.method} {request.url.path}",
            context=caller.context,
        )
        device_id = device.device_id
    record_seen(session, touch)
    return MatrixCaller(caller=caller, device_id=device_id, token=token)


Matrix = Annotated[MatrixCaller, Depends(get_matrix_caller)]
