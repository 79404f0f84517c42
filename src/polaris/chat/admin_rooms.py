"""Rooms as the administration's chat page lists them (the export's and the holds' room picker),
and the names of what a hold on a room or user names. Reads only: the page that calls these has
already been allowed by ``access.gate.require_admin``; exporting and holding decide again.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.chat.models import DIRECT, JOIN, ChatMember, ChatRoom
from polaris.identity.models import User

#: At most this many rooms in the picker (the newest first); a name narrows the list.
PICKER_ROOMS = 200


@dataclass(frozen=True)
class RoomChoice:
    id: int
    kind: str
    #: The room's name; for a direct room, the two people's names.
    label: str


def _direct_labels(session: Session, room_ids: list[int]) -> dict[int, str]:
    if not room_ids:
        return {}
    rows = session.execute(
        select(ChatMember.room_id, User.full_name)
        .join(User, User.id == ChatMember.user_id)
        .where(ChatMember.room_id.in_(room_ids), ChatMember.membership == JOIN)
        .order_by(ChatMember.room_id, User.full_name)
    ).all()
    names: dict[int, list[str]] = {}
    for room_id, name in rows:
        names.setdefault(room_id, []).append(name)
    return {room_id: " · ".join(found) for room_id, found in names.items()}


def room_choices(session: Session, name: str = "") -> list[RoomChoice]:
    """The newest rooms, or those whose name holds ``name`` (a direct room has none: it is found
    by its members' names)."""
    wanted = unicodedata.normalize("NFC", name).strip()
    query = select(ChatRoom).order_by(ChatRoom.id.desc()).limit(PICKER_ROOMS)
    if wanted:
        members = (
            select(ChatMember.room_id)
            .join(User, User.id == ChatMember.user_id)
            .where(User.full_name.icontains(wanted, autoescape=True))
        )
        query = query.where(
            ChatRoom.name.icontains(wanted, autoescape=True)
            | (ChatRoom.kind == DIRECT) & ChatRoom.id.in_(members)
        )
    found = list(session.scalars(query))
    direct = _direct_labels(session, [r.id for r in found if r.kind == DIRECT])
    return [
        RoomChoice(r.id, r.kind, direct.get(r.id, "") if r.kind == DIRECT else r.name)
        for r in found
    ]


def labels_of(
    session: Session, room_ids: list[int], user_ids: list[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """The labels of the rooms and the names (with usernames) of the users that holds name."""
    rooms = {r.id: r for r in session.scalars(select(ChatRoom).where(ChatRoom.id.in_(room_ids)))}
    direct = _direct_labels(session, [i for i, r in rooms.items() if r.kind == DIRECT])
    room_labels = {i: direct.get(i, "") if r.kind == DIRECT else r.name for i, r in rooms.items()}
    users = {
        u.id: f"{u.full_name} ({u.username})"
        for u in session.scalars(select(User).where(User.id.in_(user_ids)))
    }
    return room_labels, users
