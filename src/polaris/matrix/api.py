"""Routes of the Matrix client-server API that need no rooms: discovery, signing in and out,
server facts, and the answer to every endpoint Polaris does not serve (docs/matrix.md).

Each client endpoint answers under ``/_matrix/client/v3`` and the older ``r0``
(``matrix.routing``). The client's settings are in ``api_account.py``, media in
``api_media.py``. Errors leave in the Matrix format (``polaris.web.matrix_errors``); bodies are
read with ``matrix.body`` (NUL, ``NaN`` and integers past 2^53 refused as ``M_BAD_JSON``).
Database work runs in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris import __version__
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession, Info, SessionCaller, get_request_info
from polaris.identity import auth
from polaris.identity.actors import RequestInfo, anonymous_context
from polaris.instance import Instance
from polaris.matrix import devices, login_tokens
from polaris.matrix.body import json_object, string
from polaris.matrix.caller import Matrix
from polaris.matrix.ids import base_url, server_name, user_id, username_of
from polaris.matrix.redirects import PAGE, usable_redirect
from polaris.matrix.routing import client
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)
#: Mounted last: every ``/_matrix`` path no other route took.
fallback_router = APIRouter(include_in_schema=False)
#: Mounted under ``/api/v1``: the browser side of ``m.login.token``.
polaris_router = APIRouter(tags=["matrix"])

SPEC_VERSIONS = [f"v1.{minor}" for minor in range(1, 12)]
LOGIN_PASSWORD = "m.login.password"  # noqa: S105 - a login type's name, not a password
LOGIN_TOKEN = "m.login.token"  # noqa: S105 - a login type's name, not a token
LOGIN_SSO = "m.login.sso"
ROOM_VERSION = "10"

# --- discovery -------------------------------------------------------------------------------


@router.get("/.well-known/matrix/client")
def well_known(request: Request, instance: CurrentInstance) -> JSONResponse:
    """Where the homeserver is, and end-to-end encryption off (docs/matrix.md: official messages
    must stay archivable, searchable and auditable)."""
    return JSONResponse(
        {
            "m.homeserver": {"base_url": base_url(instance.settings, request)},
            "io.element.e2ee": {"force_disable": True, "default": False},
        }
    )


@router.get("/_matrix/client/versions")
def versions() -> dict[str, Any]:
    return {
        "versions": SPEC_VERSIONS,
        # Element Android classic lazy-loads members only when told (matrix.sync_filter).
        "unstable_features": {"m.lazy_load_members": True},
        "server": "Polaris " + __version__,
    }


# --- login and logout ------------------------------------------------------------------------


@client(router, "/login", "GET")
def login_flows() -> dict[str, Any]:
    """Password; a login token; and "single sign-on", which is Polaris's own sign-in page in
    the browser (with the second factor) sending the app a login token (``matrix.views``)."""
    return {
        "flows": [
            {"type": LOGIN_PASSWORD},
            {"type": LOGIN_SSO, "identity_providers": []},
            {"type": LOGIN_TOKEN},
        ]
    }


@client(router, "/login/sso/redirect", "GET")
def sso_redirect(
    request: Request,
    instance: CurrentInstance,
    redirect_url: Annotated[str, Query(alias="redirectUrl")],
) -> Response:
    """Send the browser to Polaris's page that, once signed in, returns a login token to the
    app at ``redirectUrl`` (``matrix.views``)."""
    if usable_redirect(redirect_url) is None:
        raise MatrixError(400, "M_INVALID_PARAM", "redirectUrl is not a usable address")
    target = (
        f"{base_url(instance.settings, request)}{PAGE}?{urlencode({'redirect_url': redirect_url})}"
    )
    return RedirectResponse(target, status_code=302)


def _login_username(body: dict[str, Any], server: str) -> str:
    identifier = body.get("identifier")
    if identifier is None and isinstance(body.get("user"), str):
        identifier = {"type": "m.id.user", "user": body["user"]}
    if not isinstance(identifier, dict) or identifier.get("type") != "m.id.user":
        raise MatrixError(400, "M_UNKNOWN", "only the identifier type m.id.user is supported")
    name = string(identifier, "user")
    assert name is not None
    # Another server's user goes through the same sign-in, as an unknown name: same work, same
    # answer, throttled and audited.
    return username_of(name, server) or name


@client(router, "/login", "POST")
async def login(request: Request, instance: CurrentInstance, session: DbSession) -> JSONResponse:
    body = await json_object(request)
    kind = body.get("type")
    if kind not in (LOGIN_PASSWORD, LOGIN_TOKEN):
        raise MatrixError(400, "M_UNKNOWN", "unknown login type")
    server = server_name(instance.settings, request)
    device_id = string(body, "device_id", required=False)
    if device_id is not None:
        devices.check_device_id(device_id)
    display = devices.check_display_name(
        string(body, "initial_device_display_name", required=False)
    )
    info = get_request_info(request)
    if kind == LOGIN_PASSWORD:
        username = _login_username(body, server)
        password = string(body, "password")
        assert password is not None
        result = await run_in_threadpool(
            _password_login, instance, session, info, username, password, device_id, display
        )
    else:
        token = string(body, "token")
        assert token is not None
        result = await run_in_threadpool(
            _token_login, instance, session, info, token, device_id, display
        )
    if result is None:
        raise MatrixError(
            403,
            "M_FORBIDDEN",
            "this account needs a second factor: sign in with single sign-on, or sign in to "
            f"Polaris in a browser, make a login token at {PAGE} and sign in with it",
        )
    username, token, device = result
    return JSONResponse(
        {
            "user_id": user_id(username, server),
            "access_token": token,
            "device_id": device,
            "home_server": server,
            "well_known": {"m.homeserver": {"base_url": base_url(instance.settings, request)}},
        }
    )


def _password_login(
    instance: Instance, session: Session, info: RequestInfo, username: str, password: str,
    device_id: str | None, display: str | None,
) -> tuple[str, str, str] | None:  # fmt: skip
    """Sign in with ``identity.auth.login``; None when the role needs a second factor (the
    half-made session is ended, and that is committed before the refusal)."""
    with transaction(session):
        step = auth.login(
            session=session, config=instance.auth, username=username, password=password,
            request=info,
        )  # fmt: skip
        if step.stage != "active":
            auth.logout(session=session, config=instance.auth, token=step.token, request=info)
            return None
        device = devices.register(
            session, user=step.user, token=step.token, device_id=device_id, display_name=display
        )
        return step.user.username, step.token, device.device_id


def _token_login(
    instance: Instance, session: Session, info: RequestInfo, secret: str, device_id: str | None,
    display: str | None,
) -> tuple[str, str, str]:  # fmt: skip
    with transaction(session):
        user, factors = login_tokens.redeem(session, secret=secret, context=anonymous_context(info))
        step = auth.hand_over_session(
            session=session, config=instance.auth, user=user, auth_factors=factors,
            via="matrix_login_token", request=info,
        )  # fmt: skip
        device = devices.register(
            session, user=user, token=step.token, device_id=device_id, display_name=display
        )
        return user.username, step.token, device.device_id


@client(router, "/logout", "POST")
def logout(
    caller: Matrix, instance: CurrentInstance, session: DbSession, info: Info
) -> dict[str, Any]:
    with transaction(session):
        device = devices.device_of_token(session, caller.token)
        auth.logout(session=session, config=instance.auth, token=caller.token, request=info)
        if device is not None:
            devices.forget(session, device)
    return {}


@client(router, "/logout/all", "POST")
def logout_all(caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session):
        devices.logout_all(
            session, user_id=caller.caller.actor.user_id, context=caller.caller.context
        )
    return {}


@client(router, "/account/whoami", "GET")
def whoami(caller: Matrix, request: Request, instance: CurrentInstance) -> dict[str, Any]:
    server = server_name(instance.settings, request)
    return {
        "user_id": user_id(caller.caller.actor.username, server),
        "device_id": caller.device_id,
        "is_guest": False,
    }


@polaris_router.post("/matrix/login-token", status_code=201)
def mint_login_token(
    caller: SessionCaller, instance: CurrentInstance, session: DbSession
) -> dict[str, Any]:
    """A single-use token for ``m.login.token``, valid ``matrix.login_token_seconds``: how a
    signed-in person (with their second factor, where the role needs one) signs a Matrix app
    in. Needs a browser session; an API token may not mint one."""
    import datetime as dt

    lifetime = dt.timedelta(seconds=instance.settings.matrix.login_token_seconds)
    with transaction(session):
        secret, expires_at = login_tokens.mint(
            session,
            user=caller.user,
            auth_factors=caller.actor.auth_factors,
            lifetime=lifetime,
            context=caller.context,
        )
    return {
        "login_token": secret,
        "expires_in_ms": int(lifetime.total_seconds() * 1000),
        "expires_at": expires_at.isoformat(),
    }


# --- server facts ----------------------------------------------------------------------------


@client(router, "/capabilities", "GET")
def capabilities(caller: Matrix) -> dict[str, Any]:
    del caller
    return {
        "capabilities": {
            "m.change_password": {"enabled": False},
            "m.set_displayname": {"enabled": False},
            "m.set_avatar_url": {"enabled": False},
            "m.3pid_changes": {"enabled": False},
            "m.room_versions": {"default": ROOM_VERSION, "available": {ROOM_VERSION: "stable"}},
        }
    }


@client(router, "/voip/turnServer", "GET")
def turn_server(caller: Matrix) -> dict[str, Any]:
    del caller
    return {}


@client(router, "/thirdparty/protocols", "GET")
def thirdparty_protocols(caller: Matrix) -> dict[str, Any]:
    del caller
    return {}


@client(router, "/account/3pid", "GET")
def threepids(caller: Matrix) -> dict[str, Any]:
    del caller
    return {"threepids": []}


# --- everything else -------------------------------------------------------------------------

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


@fallback_router.api_route("/_matrix/{rest:path}", methods=ALL_METHODS)
def unrecognised(rest: str) -> None:
    """Any endpoint Polaris does not serve (or a method it does not take)."""
    del rest
    raise MatrixError(404, "M_UNRECOGNIZED", "unrecognised request")
