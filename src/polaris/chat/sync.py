"""What a client may see of the change stream after a position: the chat events of its rooms.

The position a client resumes from is the change stream's (docs/events.md): positions are handed
out only to committed events, after every position handed out before, so a client that read up to
P and asks again from P gets every later event once, in order, however long it was away. The
timeline rows an event names are loaded with it; a redacted message comes without its text.

Who sees what: the events of the rooms the caller is joined to now (as history: docs/chat.md),
and the membership events about the caller themself (an invitation, a removal), so that a client
learns of a room it was invited into or put out of. Nothing else of a room reaches a non-member.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris import events
from polaris.access.policy import Actor
from polaris.chat import events as chat_events
from polaris.chat import live
from polaris.chat.messages import TimelineItem
from polaris.chat.models import JOIN, MODERATOR, OWNER, ChatEvent, ChatMember
from polaris.chat.waiters import room_of
from polaris.errors import Gone, PolarisError

#: Every kind the messenger appends (docs/chat.md, "Change events") but a member's private read
#: marker and account data (Matrix's, for that member's own Matrix syncs).
KINDS = tuple(
    kind
    for kind in live.KINDS
    if kind not in (chat_events.MARKER_UPDATED, chat_events.ACCOUNT_UPDATED)
)
#: Stream events read per call: the page ends there even when few of them are the caller's.
SCAN_LIMIT = 500


@dataclass(frozen=True)
class SyncItem:
    """One change the caller may see: its stream position and kind, the room, the timeline
    event it names (None for acknowledgements and reminders) and the ids the stream gave."""

    position: int
    kind: str
    room_id: int
    event: TimelineItem | None
    data: dict[str, object]


@dataclass(frozen=True)
class SyncPage:
    """Changes in stream order; ``next``: the position to ask from next time."""

    items: list[SyncItem]
    next: int
    #: Chat events committed after ``next`` still wait for their position (the hub gives it).
    pending: bool = False
    #: The rooms the caller is joined to: what a waiting sync follows (with the membership
    #: events about the caller).
    rooms: frozenset[int] = frozenset()


def check_position(session: Session, since: int) -> int:
    """The head; ``invalid_position`` for a position not handed out yet, ``Gone``
    (``chat_sync_expired``) when events after it were compacted away (list the rooms again)."""
    head = events.head_position(session)
    if since < 0 or since > head:
        raise PolarisError("no change has this position yet", code="invalid_position")
    oldest = events.oldest_position(session)
    if oldest is not None and since < oldest - 1:
        raise Gone(
            "changes after this position are no longer kept; list the rooms again",
            code="chat_sync_expired",
        )
    return head


def read(
    session: Session,
    actor: Actor,
    since: int,
    *,
    limit: int = SCAN_LIMIT,
    hub: live.Hub | None = None,
) -> SyncPage:
    """The caller's chat changes after ``since`` (at most ``limit`` stream events looked at):
    from the hub's copy of the recent events when it holds everything up to the head (read once
    for every waiter), else from the database."""
    head = check_position(session, since)
    copied = hub.recent(since, head, kinds=KINDS, limit=limit) if hub is not None else None
    if copied is not None:
        batch, complete = copied
    else:
        batch = events.since(session, after=since, kinds=KINDS, limit=limit)
        complete = batch[-1].position if len(batch) == limit else max(since, head)
        complete = max(complete, batch[-1].position if batch else 0)
    joined: dict[int, str] = dict(
        session.execute(
            select(ChatMember.room_id, ChatMember.role).where(
                ChatMember.user_id == actor.user_id, ChatMember.membership == JOIN
            )
        ).all()
    )
    rooms = frozenset(joined)
    if not batch:
        return SyncPage([], complete, pending=_waiting(session, complete), rooms=rooms)
    seen = [event for event in batch if _visible(event, actor.user_id, joined)]
    rows = _timeline_rows(session, seen)
    items = [
        SyncItem(
            position=event.position,
            kind=event.kind,
            room_id=_room_of(event),
            event=_item_of(rows, event),
            data=dict(event.data),
        )
        for event in seen
    ]
    return SyncPage(items, complete, rooms=rooms)


def _waiting(session: Session, after: int) -> bool:
    """Whether chat events committed but not given a position yet (they will follow ``after``)."""
    later = events.later_events(
        session, after=after, subject_type="chat_room", subject_ids=None, kinds=KINDS
    )
    return any(event.position is None for event in later)


def _room_of(event: events.Event) -> int:
    """A room event's room (this sync reads no other kind: ``KINDS``)."""
    room = room_of(event)
    return event.subject_id if room is None else room


def _visible(event: events.Event, user_id: int, joined: dict[int, str]) -> bool:
    """A joined member sees the room's events, but who acknowledged a broadcast and who was
    reminded only the room's moderators see (and the person it is about)."""
    role = joined.get(_room_of(event))
    if event.kind in _NOT_TIMELINE and role is not None:
        about = event.data.get("user_ids") or [event.data.get("user_id")]
        return role in (MODERATOR, OWNER) or (isinstance(about, list) and user_id in about)
    if role is not None:
        return True
    return event.kind == chat_events.MEMBER_CHANGED and event.data.get("user_id") == user_id


def _timeline_rows(session: Session, seen: list[events.Event]) -> dict[int, ChatEvent]:
    ids = sorted(
        {
            value
            for event in seen
            if event.kind not in _NOT_TIMELINE
            and isinstance(value := event.data.get("event_id"), int)
        }
    )
    found: dict[int, ChatEvent] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            (row.id, row)
            for row in session.scalars(select(ChatEvent).where(ChatEvent.id.in_(chunk)))
        )
    return found


#: Kinds whose ``event_id`` names the message acknowledged, not a new timeline event.
_NOT_TIMELINE = frozenset({chat_events.BROADCAST_ACKNOWLEDGED, chat_events.BROADCAST_REMINDED})


def _item_of(rows: dict[int, ChatEvent], event: events.Event) -> TimelineItem | None:
    if event.kind in _NOT_TIMELINE:
        return None
    event_id = event.data.get("event_id")
    row = rows.get(event_id) if isinstance(event_id, int) else None
    return TimelineItem.of(row) if row is not None else None
