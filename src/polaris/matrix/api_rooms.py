"""Matrix room endpoints over the chat domain's services (docs/matrix.md, "Rooms").

Every decision is the chat services' (``polaris.access.require_chat``, audited there): these
routes translate ids and bodies (``matrix.rooms``) and answers. A room that does not exist and
one the caller is not in answer alike, as Synapse answers a room one is not in: ``403
M_FORBIDDEN`` "User … not in room …"; an event one may not see, ``404 M_NOT_FOUND``.
Encryption is refused (``m.room.encryption``, ``m.room.encrypted``): official messages must stay
archivable, searchable and auditable.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from polaris.chat import events as chat_events
from polaris.chat import rooms as chat_rooms
from polaris.chat.models import JOIN, ChatEvent, ChatMember
from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.matrix import settings_store
from polaris.matrix.api_room_media import router as media_router
from polaris.matrix.api_timeline import router as timeline_router
from polaris.matrix.body import json_object, string
from polaris.matrix.caller import Matrix
from polaris.matrix.room_calls import (
    ENCRYPTION_REFUSED,
    MAX_INVITES,
    Call,
    state_rows,
)
from polaris.matrix.rooms import (
    Translator,
    event_matrix_id,
    room_id_of,
    room_matrix_id,
)
from polaris.matrix.routing import client, own
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)


# --- creating and joining rooms --------------------------------------------------------------


def _refuse_encryption(initial_state: Any) -> None:
    if initial_state is None:
        return
    if not isinstance(initial_state, list) or not all(isinstance(e, dict) for e in initial_state):
        raise MatrixError(400, "M_BAD_JSON", "initial_state must be a list of events")
    for event in initial_state:
        if event.get("type") == "m.room.encryption":
            raise MatrixError(403, "M_FORBIDDEN", ENCRYPTION_REFUSED)


@client(router, "/createRoom", "POST")
async def create_room(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    """``private_chat``/``trusted_private_chat`` (and no preset) make a group; ``is_direct``
    with one invitee the pair's direct room. Public rooms and aliases do not exist here."""
    body = await json_object(request, empty_ok=True)
    name = string(body, "name", required=False)
    topic = string(body, "topic", required=False)
    preset = string(body, "preset", required=False)
    if preset not in (None, "private_chat", "trusted_private_chat"):
        raise MatrixError(400, "M_INVALID_PARAM", "only private rooms exist on this server")
    if body.get("visibility") not in (None, "private"):
        raise MatrixError(400, "M_INVALID_PARAM", "rooms cannot be published in a directory")
    if body.get("room_alias_name") is not None:
        raise MatrixError(400, "M_INVALID_PARAM", "Polaris has no room aliases")
    _refuse_encryption(body.get("initial_state"))
    invites = body.get("invite", [])
    if not isinstance(invites, list) or not all(isinstance(i, str) for i in invites):
        raise MatrixError(400, "M_BAD_JSON", "invite must be a list of user ids")
    if len(invites) > MAX_INVITES:
        raise MatrixError(400, "M_INVALID_PARAM", f"at most {MAX_INVITES} invitees")
    direct = body.get("is_direct") is True
    call = Call(caller, request, session)

    def create() -> int:
        with transaction(session):
            ids = tuple(dict.fromkeys(call.user_db_id(i) for i in invites))
            if direct and len(ids) == 1:
                return chat_rooms.create_direct(**call.kw(), other_user_id=ids[0]).id
            chosen = (
                name
                or ", ".join(
                    [caller.caller.actor.username, *(i.lstrip("@").split(":")[0] for i in invites)]
                )[:255]
            )
            room = chat_rooms.create_group(
                **call.kw(), name=chosen, topic=topic, invite_user_ids=ids
            )
            return room.id

    room_id = await run_in_threadpool(create)
    return {"room_id": room_matrix_id(room_id, call.server)}


@client(router, "/rooms/{room}/invite", "POST")
async def invite(room: str, request: Request, caller: Matrix, session: DbSession) -> Any:
    body = await json_object(request)
    target = string(body, "user_id")
    assert target is not None
    call = Call(caller, request, session)

    def run() -> None:
        with call.in_room(room):
            chat_rooms.invite(
                **call.kw(), room_id=room_id_of(room, call.server),
                user_id=call.user_db_id(target),
            )  # fmt: skip

    await run_in_threadpool(run)
    return {}


def _join(call: Call, room: str) -> dict[str, str]:
    if room.startswith("#"):
        raise MatrixError(404, "M_NOT_FOUND", "Polaris has no room aliases: join by room id")
    with call.in_room(room):
        chat_rooms.join(**call.kw(), room_id=room_id_of(room, call.server))
    return {"room_id": room}


@client(router, "/rooms/{room}/join", "POST")
def join(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, str]:
    return _join(Call(caller, request, session), room)


@client(router, "/join/{room}", "POST")
def join_any(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, str]:
    return _join(Call(caller, request, session), room)


@client(router, "/rooms/{room}/leave", "POST")
def leave(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room):
        chat_rooms.leave(**call.kw(), room_id=room_id_of(room, call.server))
    return {}


@client(router, "/rooms/{room}/forget", "POST")
def forget(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    """Nothing to forget: the record of a room is kept for inquiries."""
    del room, request, caller, session
    return {}


@client(router, "/joined_rooms", "GET")
def joined_rooms(request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    call = Call(caller, request, session)
    with transaction(session, read_only=True):
        views = chat_rooms.my_rooms(session=session, actor=call.actor)
    return {
        "joined_rooms": [
            room_matrix_id(v.room.id, call.server) for v in views if v.membership == JOIN
        ]
    }


# --- members and state -----------------------------------------------------------------------


MEMBERSHIPS = frozenset({"join", "invite", "leave", "ban", "knock"})


@client(router, "/rooms/{room}/members", "GET")
def members(
    room: str,
    request: Request,
    caller: Matrix,
    session: DbSession,
    membership: Annotated[str | None, Query(max_length=16)] = None,
    not_membership: Annotated[str | None, Query(max_length=16)] = None,
    at: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """The room's member events now, of ``membership`` (or all but ``not_membership``: Element
    Android asks ``not_membership=leave``). ``at`` (a sync token) is accepted and the members
    are those of now: a client given them reads later changes from its sync."""
    del at
    for given in (membership, not_membership):
        if given is not None and given not in MEMBERSHIPS:
            raise MatrixError(400, "M_INVALID_PARAM", "unknown membership")
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        found = call.require(room)
        rows = [
            r
            for r in state_rows(session, found)
            if r.state_type == "member"
            and (membership is None or r.state_value == membership)
            and (not_membership is None or r.state_value != not_membership)
        ]
        chunk = Translator(session, call.server).events(rows, room_kind=found.kind)
    return {"chunk": chunk}


@client(router, "/rooms/{room}/joined_members", "GET")
def joined_members(
    room: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        found = call.require(room)
        tr = Translator(session, call.server)
        ids = session.scalars(
            select(ChatMember.user_id).where(
                ChatMember.room_id == found.id, ChatMember.membership == JOIN
            )
        ).all()
        tr.load_users(ids)
        return {"joined": {tr.user(i): {} for i in ids}}


@client(router, "/rooms/{room}/state", "GET")
def room_state(room: str, request: Request, caller: Matrix, session: DbSession) -> Any:
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        found = call.require(room)
        return Translator(session, call.server).events(
            state_rows(session, found), room_kind=found.kind
        )


def _one_state(call: Call, room: str, kind: str, key: str) -> dict[str, Any]:
    with call.in_room(room, write=False):
        found = call.require(room)
        events = Translator(call.session, call.server).events(
            state_rows(call.session, found), room_kind=found.kind
        )
    for event in events:
        if event["type"] == kind and event.get("state_key") == key:
            return dict(event["content"])
    raise MatrixError(404, "M_NOT_FOUND", "Event not found.")


@client(router, "/rooms/{room}/state/{kind}/", "GET")
@client(router, "/rooms/{room}/state/{kind}", "GET")
def state_event(
    room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    return _one_state(Call(caller, request, session), room, kind, "")


@client(router, "/rooms/{room}/state/{kind}/{key}", "GET")
def state_event_key(
    room: str, kind: str, key: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    return _one_state(Call(caller, request, session), room, kind, key)


async def _put_state(call: Call, request: Request, room: str, kind: str, key: str) -> Any:
    if kind == "m.room.encryption":
        raise MatrixError(403, "M_FORBIDDEN", ENCRYPTION_REFUSED)
    if kind not in ("m.room.name", "m.room.topic") or key != "":
        raise MatrixError(
            403, "M_FORBIDDEN", "only a room's name and topic are set through this API"
        )
    body = await json_object(request)
    field = "name" if kind == "m.room.name" else "topic"
    value = string(body, field, required=field == "name")

    def run() -> str:
        with call.in_room(room):
            found = chat_rooms.rename(
                **call.kw(),
                room_id=room_id_of(room, call.server),
                name=value if field == "name" else None,
                topic=(value or "") if field == "topic" else None,
            )
            key_of = call.session.scalar(
                select(ChatEvent.event_key).where(
                    ChatEvent.room_id == found.id, ChatEvent.seq == found.last_seq
                )
            )
            assert key_of is not None
            return event_matrix_id(key_of)

    return {"event_id": await run_in_threadpool(run)}


@client(router, "/rooms/{room}/state/{kind}/", "PUT")
@client(router, "/rooms/{room}/state/{kind}", "PUT")
async def put_state(
    room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> Any:
    return await _put_state(Call(caller, request, session), request, room, kind, "")


@client(router, "/rooms/{room}/state/{kind}/{key}", "PUT")
async def put_state_key(
    room: str, kind: str, key: str, request: Request, caller: Matrix, session: DbSession
) -> Any:
    return await _put_state(Call(caller, request, session), request, room, kind, key)


# --- room account data -----------------------------------------------------------------------


@client(router, "/user/{who}/rooms/{room}/account_data/{kind}", "GET")
def get_room_account_data(
    who: str, room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    own(caller, request, who, "account data")
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        call.require(room)
        return settings_store.get_account_data(
            session, user_id=call.actor.user_id, data_type=kind, room_id=room
        )


@client(router, "/user/{who}/rooms/{room}/account_data/{kind}", "PUT")
async def put_room_account_data(
    who: str, room: str, kind: str, request: Request, caller: Matrix, session: DbSession
) -> dict[str, Any]:
    own(caller, request, who, "account data")
    call = Call(caller, request, session)
    content = await json_object(request)

    def run() -> None:
        with call.in_room(room):
            found = call.require(room)
            settings_store.put_account_data(
                session, user_id=call.actor.user_id, data_type=kind, content=content,
                room_id=room,
            )  # fmt: skip
            # The user's other syncs show the change (an incremental sync gives only changed
            # room account data).
            chat_events.changed(
                session, chat_events.MARKER_UPDATED, room_id=found.id,
                actor_id=call.actor.user_id, user_id=call.actor.user_id,
            )  # fmt: skip

    await run_in_threadpool(run)
    return {}


router.include_router(timeline_router)
router.include_router(media_router)  # registered with the rooms, before matrix.api's routes
