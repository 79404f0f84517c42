"""What of a ``/sync`` filter Polaris applies: the room timeline's ``limit``, the event-type
filters (``types``, ``not_types``) of the room ``timeline`` and ``state``, and
``lazy_load_members`` (the room ``state``'s, as matrix-js-sdk and Element Android send it).

Lazy-loading, as the client-server spec describes it: the member events sent in a room's
``state`` are only those of the senders of the timeline events sent with it (and the syncing
user's own), on the initial sync and on each incremental one, so that a client never has to load
a big room's whole member list to show a page of messages; the room's ``summary`` then gives
the member counts and the ``m.heroes`` a client names a room without a name by. Polaris does not
remember which members it has sent to each device, so an incremental sync repeats a sender's
member event each time they appear (the spec allows these "redundant" members).

A type pattern may end in or hold ``*`` (any characters), as the spec says. A filter is checked
when it is uploaded (``POST /user/{id}/filter``) and when it is given inline: a field of the
wrong shape is ``M_BAD_JSON``. The filter's other fields (rooms, senders, presence, account
data, ephemeral) are accepted and not applied (docs/matrix.md, gaps).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.chat.models import INVITE, JOIN, STATE, ChatEvent, ChatMember
from polaris.matrix import settings_store
from polaris.matrix.body import parse_object
from polaris.web.matrix_errors import MatrixError

DEFAULT_TIMELINE = 20
#: The most timeline events per room an initial sync gives, whatever the filter asks.
MAX_TIMELINE = 100
#: Type patterns kept per list; a longer list is refused.
MAX_PATTERNS = 100
#: Heroes named in a room's summary (the spec suggests 5).
HEROES = 5


def _bad(what: str) -> MatrixError:
    return MatrixError(400, "M_BAD_JSON", f"filter: {what}")


@dataclass(frozen=True)
class EventFilter:
    """A ``RoomEventFilter``'s types: None allows every type."""

    types: tuple[re.Pattern[str], ...] | None = None
    not_types: tuple[re.Pattern[str], ...] = ()

    def allows(self, event_type: str) -> bool:
        if any(p.fullmatch(event_type) for p in self.not_types):
            return False
        return self.types is None or any(p.fullmatch(event_type) for p in self.types)

    @property
    def everything(self) -> bool:
        return self.types is None and not self.not_types


def _patterns(value: object, field: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, list) or len(value) > MAX_PATTERNS:
        raise _bad(f"{field} must be a list of at most {MAX_PATTERNS} strings")
    found = []
    for item in value:
        if not isinstance(item, str) or len(item) > 255:
            raise _bad(f"{field} must be a list of strings")
        found.append(re.compile(".*".join(re.escape(part) for part in item.split("*"))))
    return tuple(found)


def _event_filter(value: object, where: str) -> tuple[EventFilter, Mapping[str, Any]]:
    if value is None:
        return EventFilter(), {}
    if not isinstance(value, dict):
        raise _bad(f"{where} must be an object")
    types = value.get("types")
    not_types = value.get("not_types")
    return EventFilter(
        types=_patterns(types, f"{where}.types") if types is not None else None,
        not_types=_patterns(not_types, f"{where}.not_types") if not_types is not None else (),
    ), value


@dataclass(frozen=True)
class SyncFilter:
    timeline_limit: int = DEFAULT_TIMELINE
    timeline: EventFilter = EventFilter()
    state: EventFilter = EventFilter()
    lazy_load_members: bool = False

    def apply(self, body: dict[str, Any]) -> None:
        """Drop the events of the types the filter leaves out from each room's timeline and
        state (in place)."""
        if self.timeline.everything and self.state.everything:
            return
        for section in ("join", "leave"):
            for room in body["rooms"][section].values():
                for part, kept in (("timeline", self.timeline), ("state", self.state)):
                    if part in room and not kept.everything:
                        room[part]["events"] = [
                            e for e in room[part]["events"] if kept.allows(e["type"])
                        ]


def parse(definition: Mapping[str, Any]) -> SyncFilter:
    """A filter definition as Polaris applies it; ``M_BAD_JSON`` for a field of the wrong shape."""
    room = definition.get("room")
    if room is None:
        return SyncFilter()
    if not isinstance(room, dict):
        raise _bad("room must be an object")
    timeline, timeline_fields = _event_filter(room.get("timeline"), "room.timeline")
    state, state_fields = _event_filter(room.get("state"), "room.state")
    limit = timeline_fields.get("limit", DEFAULT_TIMELINE)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise _bad("room.timeline.limit must be an integer")
    lazy = state_fields.get("lazy_load_members", False)
    if not isinstance(lazy, bool):
        raise _bad("room.state.lazy_load_members must be true or false")
    return SyncFilter(max(1, min(limit, MAX_TIMELINE)), timeline, state, lazy)


def load(session: Session, user_id: int, given: str | None) -> SyncFilter:
    """The filter of a ``/sync`` request: inline JSON, or the id of one the user stored."""
    if given is None:
        return SyncFilter()
    if given.lstrip().startswith("{"):
        definition = parse_object(given.encode())
    else:
        definition = settings_store.get_filter(session, user_id=user_id, filter_id=given)
    return parse(definition)


def wanted_members(senders: Iterable[int | None], me: int) -> set[int]:
    """The users whose member events a lazy-loading client is sent with a timeline."""
    return {s for s in senders if s is not None} | {me}


def member_rows(
    session: Session, room_id: int, users: Iterable[int], before: int | None
) -> list[ChatEvent]:
    """The latest member event of each of ``users`` before ``seq`` ``before`` (the state a
    timeline starting there follows), in timeline order."""
    query = select(ChatEvent).where(
        ChatEvent.room_id == room_id,
        ChatEvent.kind == STATE,
        ChatEvent.state_type == "member",
        ChatEvent.state_key.in_(sorted(set(users))),
    )
    if before is not None:
        query = query.where(ChatEvent.seq < before)
    latest: dict[int | None, ChatEvent] = {}
    for row in session.scalars(query.order_by(ChatEvent.seq)):
        latest[row.state_key] = row
    return sorted(latest.values(), key=lambda row: row.seq)


def summary(session: Session, room_id: int, me: int, user_id_of: Any) -> dict[str, Any]:
    """A room's ``summary`` for a lazy-loading client: the joined and invited counts and up to
    ``HEROES`` other members (joined or invited, in id order), as Matrix user ids."""
    rows = session.execute(
        select(ChatMember.user_id, ChatMember.membership)
        .where(ChatMember.room_id == room_id, ChatMember.membership.in_((JOIN, INVITE)))
        .order_by(ChatMember.user_id)
    ).all()
    heroes = [user_id_of(user) for user, _ in rows if user != me][:HEROES]
    return {
        "m.heroes": heroes,
        "m.joined_member_count": sum(1 for _, m in rows if m == JOIN),
        "m.invited_member_count": sum(1 for _, m in rows if m == INVITE),
    }
