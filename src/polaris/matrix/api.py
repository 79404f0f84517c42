"""Routes of the Matrix client-server API that need no rooms (docs/matrix.md).

Each client endpoint answers under ``/_matrix/client/v3`` and the older ``r0`` (Element Android
classic still calls ``r0``). Errors leave in the Matrix format (``polaris.web.matrix_errors``);
an endpoint Polaris does not serve answers ``404 M_UNRECOGNIZED``. Bodies are read with
``matrix.body`` (NUL, ``NaN`` and integers past 2^53 refused as ``M_BAD_JSON``).

Database work runs in the thread pool: the routes are plain functions, except the upload, which
streams its body to storage (``async``, each storage write in the thread pool).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris import __version__
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession, Info, SessionCaller, get_request_info
from polaris.identity import auth
from polaris.identity.actors import RequestInfo, anonymous_context
from polaris.instance import Instance
from polaris.matrix import devices, login_tokens, media, profiles, pushrules, settings_store
from polaris.matrix.body import json_object, string
from polaris.matrix.caller import Matrix, MatrixCaller
from polaris.matrix.ids import base_url, server_name, user_id, username_of
from polaris.matrix.redirects import PAGE, usable_redirect
from polaris.storage.writer import ContentTooLarge
from polaris.web.downloads import content_disposition
from polaris.web.i18n import pick_language, translations
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)
#: Mounted under ``/api/v1``: the browser side of ``m.login.token``.
polaris_router = APIRouter(tags=["matrix"])

CLIENT_PREFIXES = ("/_matrix/client/v3", "/_matrix/client/r0")
MEDIA_PREFIXES = ("/_matrix/media/v3", "/_matrix/media/r0")
AUTHENTICATED_MEDIA = "/_matrix/client/v1/media"
SPEC_VERSIONS = [f"v1.{minor}" for minor in range(1, 12)]
LOGIN_PASSWORD = "m.login.password"  # noqa: S105 - a login type's name, not a password
LOGIN_TOKEN = "m.login.token"  # noqa: S105 - a login type's name, not a token
LOGIN_SSO = "m.login.sso"
ROOM_VERSION = "10"
#: Bytes handed to the storage writer at a time while an upload streams in.
HANDOFF_BYTES = 1024 * 1024

Endpoint = Callable[..., Any]


def client(path: str, *methods: str) -> Callable[[Endpoint], Endpoint]:
    """Register an endpoint under both client prefixes."""

    def register(endpoint: Endpoint) -> Endpoint:
        for prefix in CLIENT_PREFIXES:
            router.add_api_route(prefix + path, endpoint, methods=list(methods))
        return endpoint

    return register


def _own(caller: MatrixCaller, request: Request, matrix_id: str, what: str) -> None:
    """Refuse an operation on another user's ``what`` (filters, account data)."""
    instance = request.app.state.instance
    mine = user_id(caller.caller.user.username, server_name(instance.settings, request))
    if matrix_id != mine:
        raise MatrixError(403, "M_FORBIDDEN", f"cannot use another user's {what}")


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
    return {"versions": SPEC_VERSIONS, "unstable_features": {}, "server": "Polaris " + __version__}


# --- login and logout ------------------------------------------------------------------------


@client("/login", "GET")
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


@client("/login/sso/redirect", "GET")
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


@client("/login", "POST")
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


@client("/logout", "POST")
def logout(
    caller: Matrix, instance: CurrentInstance, session: DbSession, info: Info
) -> dict[str, Any]:
    with transaction(session):
        device = devices.device_of_token(session, caller.token)
        auth.logout(session=session, config=instance.auth, token=caller.token, request=info)
        if device is not None:
            devices.forget(session, device)
    return {}


@client("/logout/all", "POST")
def logout_all(caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session):
        devices.logout_all(session, user_id=caller.caller.user.id, context=caller.caller.context)
    return {}


@client("/account/whoami", "GET")
def whoami(caller: Matrix, request: Request, instance: CurrentInstance) -> dict[str, Any]:
    server = server_name(instance.settings, request)
    return {
        "user_id": user_id(caller.caller.user.username, server),
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


@client("/capabilities", "GET")
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


@client("/voip/turnServer", "GET")
def turn_server(caller: Matrix) -> dict[str, Any]:
    del caller
    return {}


@client("/thirdparty/protocols", "GET")
def thirdparty_protocols(caller: Matrix) -> dict[str, Any]:
    del caller
    return {}


@client("/account/3pid", "GET")
def threepids(caller: Matrix) -> dict[str, Any]:
    del caller
    return {"threepids": []}


# --- filters and account data ----------------------------------------------------------------


@client("/user/{matrix_id}/filter", "POST")
async def create_filter(
    matrix_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, str]:
    _own(caller, request, matrix_id, "filters")
    definition = await json_object(request)

    def create() -> str:
        with transaction(session):
            return settings_store.create_filter(
                session, user_id=caller.caller.user.id, definition=definition
            )

    return {"filter_id": await run_in_threadpool(create)}


@client("/user/{matrix_id}/filter/{filter_id}", "GET")
def get_filter(
    matrix_id: str, filter_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    _own(caller, request, matrix_id, "filters")
    with transaction(session, read_only=True):
        return settings_store.get_filter(
            session, user_id=caller.caller.user.id, filter_id=filter_id
        )


@client("/user/{matrix_id}/account_data/{data_type}", "GET")
def get_account_data(
    matrix_id: str, data_type: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    _own(caller, request, matrix_id, "account data")
    with transaction(session, read_only=True):
        return settings_store.get_account_data(
            session, user_id=caller.caller.user.id, data_type=data_type
        )


@client("/user/{matrix_id}/account_data/{data_type}", "PUT")
async def put_account_data(
    matrix_id: str, data_type: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    _own(caller, request, matrix_id, "account data")
    content = await json_object(request)

    def put() -> None:
        with transaction(session):
            settings_store.put_account_data(
                session, user_id=caller.caller.user.id, data_type=data_type, content=content
            )

    await run_in_threadpool(put)
    return {}


# --- push rules and pushers ------------------------------------------------------------------


def _rules_of(caller: MatrixCaller, request: Request) -> dict[str, Any]:
    instance = request.app.state.instance
    user = caller.caller.user
    return {
        "user_db_id": user.id,
        "username": user.username,
        "user_id": user_id(user.username, server_name(instance.settings, request)),
    }


@client("/pushrules/", "GET")
@client("/pushrules", "GET")
def get_push_rules(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return pushrules.ruleset(session, **_rules_of(caller, request))


@client("/pushrules/{scope}/{kind}/{rule_id}", "GET")
def get_push_rule(
    scope: str, kind: str, rule_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return pushrules.get_rule(
            session, scope=scope, kind=kind, rule_id=rule_id, **_rules_of(caller, request)
        )


@client("/pushrules/{scope}/{kind}/{rule_id}/{attribute}", "GET")
def get_push_rule_attribute(
    scope: str,
    kind: str,
    rule_id: str,
    attribute: str,
    request: Request,
    caller: Matrix,
    session: DbSession,
) -> dict[str, Any]:
    if attribute not in ("enabled", "actions"):
        raise MatrixError(400, "M_UNRECOGNIZED", "only enabled and actions")
    with transaction(session, read_only=True):
        rule = pushrules.get_rule(
            session, scope=scope, kind=kind, rule_id=rule_id, **_rules_of(caller, request)
        )
    return {attribute: rule[attribute]}


@client("/pushrules/{scope}/{kind}/{rule_id}/{attribute}", "PUT")
async def put_push_rule_attribute(
    scope: str,
    kind: str,
    rule_id: str,
    attribute: str,
    request: Request,
    caller: Matrix,
    session: DbSession,
) -> dict[str, Any]:
    if attribute not in ("enabled", "actions"):
        raise MatrixError(400, "M_UNRECOGNIZED", "only enabled and actions")
    body = await json_object(request)
    if attribute not in body:
        raise MatrixError(400, "M_MISSING_PARAM", f"{attribute} is required")
    rules_of = _rules_of(caller, request)

    def change() -> None:
        with transaction(session):
            pushrules.change_rule(
                session, scope=scope, kind=kind, rule_id=rule_id, attribute=attribute,
                value=body[attribute], **rules_of,
            )  # fmt: skip

    await run_in_threadpool(change)
    return {}


@client("/pushrules/{scope}/{kind}/{rule_id}", "PUT", "DELETE")
def own_push_rule(scope: str, kind: str, rule_id: str, caller: Matrix) -> dict[str, Any]:
    del scope, kind, rule_id, caller
    raise pushrules.refuse_own_rules()


@client("/pushers", "GET")
def get_pushers(caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return {"pushers": settings_store.list_pushers(session, user_id=caller.caller.user.id)}


@client("/pushers/set", "POST")
async def set_pusher(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    body = await json_object(request)

    def put() -> None:
        with transaction(session):
            settings_store.set_pusher(session, user_id=caller.caller.user.id, body=body)

    await run_in_threadpool(put)
    return {}


# --- devices ---------------------------------------------------------------------------------


@client("/devices", "GET")
def list_devices(caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        found = devices.list_devices(session, caller.caller.user.id)
    return {"devices": [device.as_json() for device in found]}


@client("/devices/{device_id}", "GET")
def get_device(device_id: str, caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return devices.get_device(session, caller.caller.user.id, device_id).as_json()


@client("/devices/{device_id}", "PUT")
async def rename_device(
    device_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    body = await json_object(request, empty_ok=True)
    name = string(body, "display_name", required=False)

    def rename() -> None:
        with transaction(session):
            devices.rename(
                session, user_id=caller.caller.user.id, device_id=device_id, name=name,
                context=caller.caller.context,
            )  # fmt: skip

    await run_in_threadpool(rename)
    return {}


def _delete(session: Session, caller: MatrixCaller, device_ids: list[str]) -> None:
    with transaction(session):
        devices.delete_devices(
            session, user_id=caller.caller.user.id, device_ids=device_ids,
            context=caller.caller.context,
        )  # fmt: skip


@client("/devices/{device_id}", "DELETE")
def delete_device(device_id: str, caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        devices.get_device(session, caller.caller.user.id, device_id)  # 404 if not the user's
    _delete(session, caller, [device_id])
    return {}


@client("/delete_devices", "POST")
async def delete_devices(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    body = await json_object(request)
    ids = body.get("devices")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
        raise MatrixError(400, "M_BAD_JSON", "devices must be a list of device ids")
    await run_in_threadpool(_delete, session, caller, ids)
    return {}


# --- profiles and the directory --------------------------------------------------------------


@client("/profile/{matrix_id}", "GET")
def get_profile(
    matrix_id: str, request: Request, caller: Matrix, instance: CurrentInstance, session: DbSession
) -> dict[str, Any]:
    del caller
    server = server_name(instance.settings, request)
    with transaction(session, read_only=True):
        return profiles.profile(session, matrix_id=matrix_id, server=server).as_json()


@client("/profile/{matrix_id}/{field}", "GET")
def get_profile_field(
    matrix_id: str,
    field: str,
    request: Request,
    caller: Matrix,
    instance: CurrentInstance,
    session: DbSession,
) -> dict[str, Any]:
    del caller
    server = server_name(instance.settings, request)
    with transaction(session, read_only=True):
        found = profiles.profile(session, matrix_id=matrix_id, server=server).as_json()
    if field not in found:
        raise MatrixError(404, "M_NOT_FOUND", "profile field not found")
    return {field: found[field]}


@client("/profile/{matrix_id}/{field}", "PUT")
def set_profile_field(matrix_id: str, field: str, caller: Matrix) -> dict[str, Any]:
    del matrix_id, field, caller
    raise MatrixError(
        403, "M_FORBIDDEN", "names come from Polaris's user records; an administrator changes them"
    )


@client("/user_directory/search", "POST")
async def search_directory(
    request: Request, caller: Matrix, instance: CurrentInstance, session: DbSession
) -> dict[str, Any]:
    del caller
    body = await json_object(request)
    term = string(body, "search_term")
    assert term is not None
    limit = body.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise MatrixError(400, "M_BAD_JSON", "limit must be an integer")
    server = server_name(instance.settings, request)

    def search() -> tuple[list[profiles.Profile], bool]:
        with transaction(session, read_only=True):
            return profiles.search(session, term=term, limit=limit, server=server)

    found, limited = await run_in_threadpool(search)
    return {
        "results": [{"user_id": p.user_id, "display_name": p.display_name} for p in found],
        "limited": limited,
    }


# --- end-to-end encryption: off --------------------------------------------------------------


@client("/keys/upload", "POST")
async def keys_upload(request: Request, caller: Matrix) -> dict[str, Any]:
    """Accepted and dropped: end-to-end encryption is off (docs/matrix.md)."""
    del caller
    await json_object(request, empty_ok=True)
    return {"one_time_key_counts": {}}


@client("/keys/query", "POST")
async def keys_query(request: Request, caller: Matrix) -> dict[str, Any]:
    del caller
    await json_object(request, empty_ok=True)
    return {"device_keys": {}, "failures": {}}


@client("/keys/claim", "POST")
async def keys_claim(request: Request, caller: Matrix) -> dict[str, Any]:
    del caller
    await json_object(request, empty_ok=True)
    return {"one_time_keys": {}, "failures": {}}


@client("/keys/changes", "GET")
def keys_changes(caller: Matrix) -> dict[str, Any]:
    del caller
    return {"changed": [], "left": []}


@client("/room_keys/version", "GET")
def key_backup(caller: Matrix) -> dict[str, Any]:
    del caller
    raise MatrixError(404, "M_NOT_FOUND", "no key backup: end-to-end encryption is off")


# --- media -----------------------------------------------------------------------------------


def _media_config(instance: Instance) -> dict[str, int]:
    settings = instance.settings
    return {"m.upload.size": min(settings.matrix.max_upload_bytes, settings.drive.max_file_bytes)}


@router.get(AUTHENTICATED_MEDIA + "/config")
@router.get(MEDIA_PREFIXES[0] + "/config")
@router.get(MEDIA_PREFIXES[1] + "/config")
def media_config(caller: Matrix, instance: CurrentInstance) -> dict[str, Any]:
    del caller
    return _media_config(instance)


@router.post(MEDIA_PREFIXES[0] + "/upload")
@router.post(MEDIA_PREFIXES[1] + "/upload")
async def upload(
    request: Request,
    caller: Matrix,
    instance: CurrentInstance,
    session: DbSession,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> JSONResponse:
    """Store the body as a drive file in the uploader's "Chat attachments" folder."""
    limit = _media_config(instance)["m.upload.size"]
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise MatrixError(413, "M_TOO_LARGE", f"a file is at most {limit} bytes")
    writer = instance.blobs.writer(limit=limit)
    batch: list[bytes] = []
    held = 0

    def hand_over(pieces: list[bytes]) -> None:
        for piece in pieces:
            writer.write(piece)

    try:
        async for piece in request.stream():
            batch.append(piece)
            held += len(piece)
            if held >= HANDOFF_BYTES:
                await run_in_threadpool(hand_over, batch)
                batch, held = [], 0
        await run_in_threadpool(hand_over, batch)
    except ContentTooLarge:
        raise MatrixError(413, "M_TOO_LARGE", f"a file is at most {limit} bytes") from None
    stored = await run_in_threadpool(writer.finish)
    folder = translations(pick_language(request)).gettext(media.FOLDER)
    server = server_name(instance.settings, request)

    def commit() -> str:
        with transaction(session):
            row = media.store_upload(
                session,
                actor=caller.caller.actor,
                user_id=caller.caller.user.id,
                context=caller.caller.context,
                settings=instance.settings,
                blobs=instance.blobs,
                body=stored,
                file_name=filename,
                declared_type=request.headers.get("content-type"),
                folder_name=folder,
            )
            return row.media_id

    media_id = await run_in_threadpool(commit)
    return JSONResponse({"content_uri": f"mxc://{server}/{media_id}"})


def _download(
    request: Request, caller: MatrixCaller, instance: Instance, session: Session, server: str,
    media_id: str, *, thumbnail: bool = False,
) -> Response:  # fmt: skip
    if server != server_name(instance.settings, request):
        # Another server's media: asked for like a missing id (same answer, same audit).
        media_id = f"{server}/{media_id}"
    with transaction(session):
        found = media.open_download(
            session,
            actor=caller.caller.actor,
            context=caller.caller.context,
            blobs=instance.blobs,
            sessions=instance.sessions,
            media_id=media_id,
            images_only=thumbnail,
        )
    headers = {
        "Content-Length": str(found.size),
        "Content-Disposition": content_disposition(found.name),
        "Cache-Control": "private, no-cache",
        "Content-Security-Policy": "sandbox; default-src 'none'; script-src 'none'; "
        "plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; "
        "object-src 'self';",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{found.etag}"',
    }
    return StreamingResponse(found.body, media_type=found.content_type, headers=headers)


for _prefix in (AUTHENTICATED_MEDIA, *MEDIA_PREFIXES):
    for _tail in ("/download/{server}/{media_id}", "/download/{server}/{media_id}/{file_name}"):

        def download(
            server: str, media_id: str, request: Request, caller: Matrix,
            instance: CurrentInstance, session: DbSession,
        ) -> Response:  # fmt: skip
            return _download(request, caller, instance, session, server, media_id)

        router.add_api_route(_prefix + _tail, download, methods=["GET"])

    def thumbnail(
        server: str, media_id: str, request: Request, caller: Matrix,
        instance: CurrentInstance, session: DbSession,
    ) -> Response:  # fmt: skip
        return _download(request, caller, instance, session, server, media_id, thumbnail=True)

    router.add_api_route(_prefix + "/thumbnail/{server}/{media_id}", thumbnail, methods=["GET"])


# --- everything else -------------------------------------------------------------------------

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


@router.api_route("/_matrix/{rest:path}", methods=ALL_METHODS)
def unrecognised(rest: str) -> None:
    """Any endpoint Polaris does not serve (or a method it does not take)."""
    del rest
    raise MatrixError(404, "M_UNRECOGNIZED", "unrecognised request")
