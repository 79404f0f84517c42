"""Matrix routes of a client's settings and what it looks up: filters, account data, push
rules, pushers, devices, profiles and the directory, and the key endpoints' stubs (end-to-end
encryption is off). See docs/matrix.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession, Info
from polaris.identity.actors import RequestInfo
from polaris.instance import Instance
from polaris.matrix import devices, interactive, profiles, pushrules, settings_store, sync_filter
from polaris.matrix.body import json_object, string
from polaris.matrix.caller import Matrix, MatrixCaller
from polaris.matrix.ids import server_name, user_id
from polaris.matrix.routing import client, own, unstable
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)


# --- filters and account data ----------------------------------------------------------------


@client(router, "/user/{matrix_id}/filter", "POST")
async def create_filter(
    matrix_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, str]:
    own(caller, request, matrix_id, "filters")
    definition = await json_object(request)
    sync_filter.parse(definition)  # a field of the wrong shape is refused now, not at /sync

    def create() -> str:
        with transaction(session):
            return settings_store.create_filter(
                session, user_id=caller.caller.actor.user_id, definition=definition
            )

    return {"filter_id": await run_in_threadpool(create)}


@client(router, "/user/{matrix_id}/filter/{filter_id}", "GET")
def get_filter(
    matrix_id: str, filter_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    own(caller, request, matrix_id, "filters")
    with transaction(session, read_only=True):
        return settings_store.get_filter(
            session, user_id=caller.caller.actor.user_id, filter_id=filter_id
        )


@client(router, "/user/{matrix_id}/account_data/{data_type}", "GET")
def get_account_data(
    matrix_id: str, data_type: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    own(caller, request, matrix_id, "account data")
    with transaction(session, read_only=True):
        return settings_store.get_account_data(
            session, user_id=caller.caller.actor.user_id, data_type=data_type
        )


@client(router, "/user/{matrix_id}/account_data/{data_type}", "PUT")
async def put_account_data(
    matrix_id: str, data_type: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    own(caller, request, matrix_id, "account data")
    content = await json_object(request)

    def put() -> None:
        with transaction(session):
            settings_store.put_account_data(
                session, user_id=caller.caller.actor.user_id, data_type=data_type, content=content
            )

    await run_in_threadpool(put)
    return {}


# --- push rules and pushers ------------------------------------------------------------------


def _rules_of(caller: MatrixCaller, request: Request) -> dict[str, Any]:
    instance = request.app.state.instance
    actor = caller.caller.actor
    return {
        "user_db_id": actor.user_id,
        "username": actor.username,
        "user_id": user_id(actor.username, server_name(instance.settings, request)),
    }


@client(router, "/pushrules/", "GET")
@client(router, "/pushrules", "GET")
def get_push_rules(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return pushrules.ruleset(session, **_rules_of(caller, request))


@client(router, "/pushrules/{scope}/{kind}/{rule_id}", "GET")
def get_push_rule(
    scope: str, kind: str, rule_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return pushrules.get_rule(
            session, scope=scope, kind=kind, rule_id=rule_id, **_rules_of(caller, request)
        )


@client(router, "/pushrules/{scope}/{kind}/{rule_id}/{attribute}", "GET")
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


@client(router, "/pushrules/{scope}/{kind}/{rule_id}/{attribute}", "PUT")
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


@client(router, "/pushrules/{scope}/{kind}/{rule_id}", "PUT", "DELETE")
def own_push_rule(scope: str, kind: str, rule_id: str, caller: Matrix) -> dict[str, Any]:
    del scope, kind, rule_id, caller
    raise pushrules.refuse_own_rules()


@client(router, "/pushers", "GET")
def get_pushers(caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return {
            "pushers": settings_store.list_pushers(session, user_id=caller.caller.actor.user_id)
        }


@client(router, "/pushers/set", "POST")
async def set_pusher(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    body = await json_object(request)

    def put() -> None:
        with transaction(session):
            settings_store.set_pusher(session, user_id=caller.caller.actor.user_id, body=body)

    await run_in_threadpool(put)
    return {}


# --- devices ---------------------------------------------------------------------------------


@client(router, "/devices", "GET")
def list_devices(caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        found = devices.list_devices(session, caller.caller.actor.user_id)
    return {"devices": [device.as_json() for device in found]}


@client(router, "/devices/{device_id}", "GET")
def get_device(device_id: str, caller: Matrix, session: DbSession) -> dict[str, Any]:
    with transaction(session, read_only=True):
        return devices.get_device(session, caller.caller.actor.user_id, device_id).as_json()


@client(router, "/devices/{device_id}", "PUT")
async def rename_device(
    device_id: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    body = await json_object(request, empty_ok=True)
    name = string(body, "display_name", required=False)

    def rename() -> None:
        with transaction(session):
            devices.rename(
                session, user_id=caller.caller.actor.user_id, device_id=device_id, name=name,
                context=caller.caller.context,
            )  # fmt: skip

    await run_in_threadpool(rename)
    return {}


def _delete(
    session: Session,
    instance: Instance,
    info: RequestInfo,
    caller: MatrixCaller,
    body: dict[str, Any],
    device_ids: list[str],
) -> None:
    """Delete devices after user-interactive authentication with the password
    (``matrix.interactive``): a stolen token alone cannot sign the person's other apps out."""
    with transaction(session):
        interactive.confirm_password(
            session,
            config=instance.auth,
            user_id=caller.caller.actor.user_id,
            body=body,
            request=info,
        )
        devices.delete_devices(
            session, user_id=caller.caller.actor.user_id, device_ids=device_ids,
            context=caller.caller.context,
        )  # fmt: skip


@client(router, "/devices/{device_id}", "DELETE")
async def delete_device(
    device_id: str,
    request: Request,
    caller: Matrix,
    instance: CurrentInstance,
    session: DbSession,
    info: Info,
) -> dict[str, Any]:
    body = await json_object(request, empty_ok=True)

    def delete() -> None:
        with transaction(session, read_only=True):
            devices.get_device(session, caller.caller.actor.user_id, device_id)  # 404 if not theirs
        _delete(session, instance, info, caller, body, [device_id])

    await run_in_threadpool(delete)
    return {}


@client(router, "/delete_devices", "POST")
async def delete_devices(
    request: Request, caller: Matrix, instance: CurrentInstance, session: DbSession, info: Info
) -> dict[str, Any]:
    body = await json_object(request)
    ids = body.get("devices")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
        raise MatrixError(400, "M_BAD_JSON", "devices must be a list of device ids")
    await run_in_threadpool(_delete, session, instance, info, caller, body, ids)
    return {}


# --- profiles and the directory --------------------------------------------------------------


@client(router, "/profile/{matrix_id}", "GET")
def get_profile(
    matrix_id: str, request: Request, caller: Matrix, instance: CurrentInstance, session: DbSession
) -> dict[str, Any]:
    del caller
    server = server_name(instance.settings, request)
    with transaction(session, read_only=True):
        return profiles.profile(session, matrix_id=matrix_id, server=server).as_json()


@client(router, "/profile/{matrix_id}/{field}", "GET")
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


@client(router, "/profile/{matrix_id}/{field}", "PUT")
def set_profile_field(matrix_id: str, field: str, caller: Matrix) -> dict[str, Any]:
    del matrix_id, field, caller
    raise MatrixError(
        403, "M_FORBIDDEN", "names come from Polaris's user records; an administrator changes them"
    )


@client(router, "/user_directory/search", "POST")
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


@client(router, "/keys/upload", "POST")
async def keys_upload(request: Request, caller: Matrix) -> dict[str, Any]:
    """Accepted and dropped: end-to-end encryption is off (docs/matrix.md)."""
    del caller
    await json_object(request, empty_ok=True)
    return {"one_time_key_counts": {}}


@client(router, "/keys/query", "POST")
async def keys_query(request: Request, caller: Matrix) -> dict[str, Any]:
    del caller
    await json_object(request, empty_ok=True)
    return {"device_keys": {}, "failures": {}}


@client(router, "/keys/claim", "POST")
async def keys_claim(request: Request, caller: Matrix) -> dict[str, Any]:
    del caller
    await json_object(request, empty_ok=True)
    return {"one_time_keys": {}, "failures": {}}


@client(router, "/keys/changes", "GET")
def keys_changes(caller: Matrix) -> dict[str, Any]:
    del caller
    return {"changed": [], "left": []}


@unstable(router, "/room_keys/version", "GET")  # Element Android classic asks here
@client(router, "/room_keys/version", "GET")
def key_backup(caller: Matrix) -> dict[str, Any]:
    del caller
    raise MatrixError(404, "M_NOT_FOUND", "no key backup: end-to-end encryption is off")
