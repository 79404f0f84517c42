"""Matrix routes Element calls that Polaris has nothing behind: presence, the notification list,
the public room directory and a room's local aliases. Each answers what the spec says an empty
server answers, so Element starts and shows "nothing" rather than an error (docs/matrix.md,
"What Element asks").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.matrix import profiles
from polaris.matrix.body import json_object
from polaris.matrix.caller import Matrix
from polaris.matrix.ids import server_name
from polaris.matrix.room_calls import Call
from polaris.matrix.routing import client, own, unstable

router = APIRouter(include_in_schema=False)


@client(router, "/presence/{matrix_id}/status", "GET")
def get_presence(
    matrix_id: str, request: Request, caller: Matrix, instance: CurrentInstance, session: DbSession
) -> dict[str, Any]:
    """Polaris keeps no presence: every known officer is ``offline``. An unknown, disabled or
    another server's user answers the profile's ``404 M_NOT_FOUND``, as for their name."""
    del caller
    server = server_name(instance.settings, request)
    with transaction(session, read_only=True):
        profiles.profile(session, matrix_id=matrix_id, server=server)
    return {"presence": "offline"}


@client(router, "/presence/{matrix_id}/status", "PUT")
async def set_presence(matrix_id: str, request: Request, caller: Matrix) -> dict[str, Any]:
    """Accepted and not kept (one's own only, as the spec asks)."""
    own(caller, request, matrix_id, "presence")
    await json_object(request)
    return {}


@client(router, "/notifications", "GET")
def notifications(caller: Matrix) -> dict[str, Any]:
    """No push notifications are made (docs/matrix.md, gaps), so the list is empty."""
    del caller
    return {"notifications": []}


@unstable(router, "/org.matrix.msc2432/rooms/{room}/aliases", "GET")  # Element Android classic
@client(router, "/rooms/{room}/aliases", "GET")
def room_aliases(room: str, request: Request, caller: Matrix, session: DbSession) -> dict[str, Any]:
    """Polaris keeps no room aliases (docs/matrix.md, gaps): a member is told there are none; a
    room one is not in answers like every room endpoint (``403 M_FORBIDDEN``)."""
    call = Call(caller, request, session)
    with call.in_room(room, write=False):
        call.require(room)
    return {"aliases": []}


@client(router, "/publicRooms", "GET", "POST")
def public_rooms(caller: Matrix) -> dict[str, Any]:
    """No room is public: public presets are refused (``createRoom``)."""
    del caller
    return {"chunk": [], "total_room_count_estimate": 0}
