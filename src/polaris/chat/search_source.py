"""What the message index reads from the messenger, and the check of its matches.

The search domain indexes messages by following the change stream (``search.messages``); it reads
each message *as it is when its job runs* through :func:`messages_for_index`: the original
message's id, its room, sender and time, and its current text (the newest edit's). A deleted
(redacted) message, one whose text retention removed, and anything that is not a message are
*gone*: the index drops them, so deleted text cannot be found.

:func:`visible_messages` is the database's verdict on an engine's matches at query time: the
searcher is joined to the room now, the message is still there and not deleted, and an
attachment is within their clearance. Counts and pages are made only of what passes, so a
message in a room one left, or one deleted since it was indexed, is neither shown nor counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.chat.models import (
    ATTACHMENT,
    JOIN,
    MESSAGE_KINDS,
    ChatAttachment,
    ChatEvent,
    ChatMember,
    ChatRoom,
)
from polaris.drive.models import Node

CHUNK = 500


@dataclass(frozen=True)
class IndexedMessage:
    event_id: int
    room_id: int
    room_unit_id: int | None
    sender_id: int | None
    kind: str
    #: The current text (the newest edit's); for an attachment the file's name too.
    text: str
    classification: int
    sent_at: dt.datetime


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[n : n + CHUNK] for n in range(0, len(unique), CHUNK)]


def _searchable(event: ChatEvent) -> bool:
    return (
        event.kind in MESSAGE_KINDS
        and event.edits_id is None
        and event.redacted_at is None
        and event.purged_at is None
    )


def messages_for_index(
    session: Session, event_ids: Sequence[int]
) -> tuple[list[IndexedMessage], list[int]]:
    """The messages named as they are now, and the ids that should not be in the index."""
    live: list[IndexedMessage] = []
    gone: list[int] = []
    for chunk in _chunks(event_ids):
        rows = {
            event.id: (event, room)
            for event, room in session.execute(
                select(ChatEvent, ChatRoom)
                .join(ChatRoom, ChatRoom.id == ChatEvent.room_id)
                .where(ChatEvent.id.in_(chunk))
            ).all()
        }
        edits: dict[int, str] = {}
        for edit in session.scalars(
            select(ChatEvent)
            .where(ChatEvent.edits_id.in_(chunk), ChatEvent.redacted_at.is_(None))
            .order_by(ChatEvent.seq)
        ):
            if edit.edits_id is not None and edit.body is not None:
                edits[edit.edits_id] = edit.body  # the newest edit wins
        files = {
            event_id: (name, level)
            for event_id, name, level in session.execute(
                select(ChatAttachment.event_id, Node.name, ChatAttachment.classification)
                .outerjoin(Node, Node.id == ChatAttachment.node_id)
                .where(ChatAttachment.event_id.in_(chunk))
            ).all()
        }
        for event_id in chunk:
            found = rows.get(event_id)
            if found is None or not _searchable(found[0]):
                gone.append(event_id)
                continue
            event, room = found
            text = edits.get(event.id, event.body or "")
            level = 0
            if event.kind == ATTACHMENT and event.id in files:
                name, level = files[event.id]
                text = f"{name or ''}\n{text}".strip()
            live.append(
                IndexedMessage(
                    event_id=event.id,
                    room_id=room.id,
                    room_unit_id=room.unit_id,
                    sender_id=event.sender_id,
                    kind=event.kind,
                    text=text,
                    classification=int(level),
                    sent_at=event.created_at,
                )
            )
    return live, gone


def message_ids(session: Session, *, after: int, limit: int) -> list[int]:
    """Ids of original messages after ``after``, in order (for a full rebuild)."""
    return list(
        session.scalars(
            select(ChatEvent.id)
            .where(
                ChatEvent.id > after,
                ChatEvent.kind.in_(MESSAGE_KINDS),
                ChatEvent.edits_id.is_(None),
            )
            .order_by(ChatEvent.id)
            .limit(limit)
        )
    )


def joined_room_ids(session: Session, user_id: int) -> frozenset[int]:
    """The rooms the user is joined to now: the only rooms whose messages they may find."""
    return frozenset(
        session.scalars(
            select(ChatMember.room_id).where(
                ChatMember.user_id == user_id, ChatMember.membership == JOIN
            )
        )
    )


@dataclass(frozen=True)
class Visible:
    """A match the searcher may see now, with what a hit shows."""

    event_id: int
    event_key: str
    room_id: int
    room_name: str
    sender_id: int | None
    sent_at: dt.datetime


def visible_messages(
    session: Session, actor: Actor, event_ids: Collection[int], rooms: frozenset[int]
) -> dict[int, Visible]:
    """The database's verdict on matched ids: in a room of ``rooms`` (joined now), not deleted,
    text not purged, an attachment within the actor's clearance."""
    found: dict[int, Visible] = {}
    for chunk in _chunks(list(event_ids)):
        rows = session.execute(
            select(ChatEvent, ChatRoom.name, ChatAttachment.classification)
            .join(ChatRoom, ChatRoom.id == ChatEvent.room_id)
            .outerjoin(ChatAttachment, ChatAttachment.event_id == ChatEvent.id)
            .where(ChatEvent.id.in_(chunk))
        ).all()
        for event, room_name, level in rows:
            if not _searchable(event) or event.room_id not in rooms:
                continue
            if level is not None and int(level) > int(actor.clearance):
                continue
            found[event.id] = Visible(
                event.id, event.event_key, event.room_id, room_name, event.sender_id,
                event.created_at,
            )  # fmt: skip
    return found
