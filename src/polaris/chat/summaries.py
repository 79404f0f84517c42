"""The caller's room list and a broadcast's acknowledgement table, shaped alike for the API
(``api_rooms``, ``api_broadcasts``) and the pages (``views``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris import events
from polaris.access.policy import Actor
from polaris.chat import broadcasts, messages, rooms
from polaris.chat.present import user_names
from polaris.chat.schemas import MemberRead, RoomList, RoomRead, UnitAcksRead
from polaris.identity.models import Unit


def room_list(session: Session, actor: Actor) -> RoomList:
    """The caller's rooms with unread counts, and the stream position they are true at (read
    first: a change after it is in the sync from it)."""
    position = events.head_position(session)
    views = rooms.my_rooms(session=session, actor=actor)
    unread = messages.unread_counts(session=session, actor=actor)
    shown = [RoomRead.of(view, unread.get(view.room.id, 0)) for view in views]
    shown.sort(key=lambda room: (-room.last_seq, room.id))
    return RoomList(position=position, unread_total=sum(unread.values()), rooms=shown)


def ack_rows(session: Session, table: list[broadcasts.UnitAcknowledgements]) -> list[UnitAcksRead]:
    """A broadcast's acknowledgements by unit, with the units' and the people's names."""
    units = {
        unit_id: (name, name_hi)
        for unit_id, name, name_hi in session.execute(
            select(Unit.id, Unit.name, Unit.name_hi).where(Unit.id.in_([t.unit_id for t in table]))
        )
    }
    names = user_names(session, [u for t in table for u in (*t.acknowledged, *t.pending)])

    def people(ids: list[int]) -> list[MemberRead]:
        return [
            MemberRead(user_id=i, name=names.get(i, ""), membership="join", role="member")
            for i in ids
        ]

    return [
        UnitAcksRead(
            unit_id=t.unit_id,
            unit_name=units.get(t.unit_id, ("", None))[0],
            unit_name_hi=units.get(t.unit_id, ("", None))[1],
            acknowledged=people(t.acknowledged),
            pending=people(t.pending),
        )
        for t in table
    ]
