"""User-interactive authentication (UIA) with the password, for deleting devices.

The spec's dance: a request without ``auth`` answers 401 with the flows (here only
``m.login.password``) and a session id; the client asks the person for their password and sends
the request again with ``auth``. The password is checked by ``identity.auth.reauthenticate``
(throttled and audited like a sign-in). The session id is not kept: with a single stage there is
nothing to carry between the two requests.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session

from polaris.errors import NotAuthenticated
from polaris.identity import auth
from polaris.identity.actors import RequestInfo
from polaris.identity.models import User
from polaris.web.matrix_errors import MatrixError

PASSWORD = "m.login.password"  # noqa: S105 - a login type's name, not a password
FLOWS = [{"stages": [PASSWORD]}]


def _challenge(errcode: str | None = None, error: str | None = None) -> MatrixError:
    fields: dict[str, Any] = {"flows": FLOWS, "params": {}, "session": secrets.token_urlsafe(12)}
    if errcode is None:
        # The first step: no errcode yet, only the flows (MatrixError always names one).
        return MatrixError(401, "", "", completed=[], **fields)
    return MatrixError(401, errcode, error or "", completed=[], **fields)


def confirm_password(
    session: Session, *, config: auth.AuthConfig, user_id: int, body: dict[str, Any],
    request: RequestInfo,
) -> None:  # fmt: skip
    """Return if ``body["auth"]`` holds the caller's password; raise the 401 of UIA otherwise."""
    given = body.get("auth")
    if not isinstance(given, dict) or given.get("type") != PASSWORD:
        raise _challenge()
    password = given.get("password")
    if not isinstance(password, str):
        raise _challenge("M_MISSING_PARAM", "password is required")
    user = session.get(User, user_id)
    assert user is not None
    try:
        auth.reauthenticate(
            session=session, config=config, user=user, password=password, request=request
        )
    except NotAuthenticated:
        raise _challenge("M_FORBIDDEN", "wrong password") from None
