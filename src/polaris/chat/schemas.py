"""The JSON shapes of the messenger's HTTP API (``chat.api`` and its ``api_*`` modules)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from polaris.chat.messages import TimelineItem
from polaris.chat.rooms import RoomView
from polaris.chat.sync import SyncItem
from polaris.chat.typing_state import DEFAULT_TYPING_MS, MAX_TYPING_MS
from polaris.web.params import Id

#: Longest body a request may carry here; the service refuses past ``ChatLimits.body_max_chars``.
BODY_MAX = 64_000
TXN = Field(default=None, min_length=1, max_length=255)


class RoomRead(BaseModel):
    id: int
    kind: Literal["direct", "group", "unit_channel", "broadcast"]
    name: str
    topic: str | None
    unit_id: int | None
    membership: str
    role: str
    last_seq: int
    unread: int = 0

    @classmethod
    def of(cls, view: RoomView, unread: int = 0) -> RoomRead:
        room = view.room
        return cls(
            id=room.id,
            kind=room.kind,
            name=room.name,
            topic=room.topic,
            unit_id=room.unit_id,
            membership=view.membership,
            role=view.role,
            last_seq=room.last_seq,
            unread=unread,
        )


class RoomList(BaseModel):
    position: int = Field(description="Sync from here (GET /chat/sync?since=) to follow changes")
    unread_total: int
    rooms: list[RoomRead]


class DirectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=1000)
    topic: str | None = Field(default=None, max_length=4000)
    invite: list[Id] = Field(default_factory=list, max_length=200)


class BroadcastCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=1000)
    topic: str | None = Field(default=None, max_length=4000)
    unit_id: Id | None = None


class UserRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id


class Kick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    ban: bool = False


class MemberRead(BaseModel):
    user_id: int
    name: str
    membership: str
    role: str


class MessageSend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=BODY_MAX)
    reply_to: str | None = Field(default=None, max_length=64)
    notice: bool = False
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    txn_id: str | None = TXN


class MessageEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=BODY_MAX)
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    txn_id: str | None = TXN


class AttachmentSend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node_id: Id
    caption: str | None = Field(default=None, max_length=BODY_MAX)
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    txn_id: str | None = TXN


class AttachmentInfo(BaseModel):
    name: str
    size: int | None
    content_type: str | None


class EventRead(BaseModel):
    """A timeline event as a member sees it (``body`` null once deleted)."""

    event_id: str = Field(description="The opaque key of the event")
    room_id: int
    seq: int
    sender_id: int | None
    kind: str
    body: str | None
    state_type: str | None
    state_key: int | None
    state_value: str | None
    reply_to: str | None = Field(description="The key of the event replied to")
    edits: str | None = Field(description="The key of the message this one replaces the text of")
    redacts: str | None = Field(description="The key of the message this deletion hides")
    redacted: bool
    txn_id: str | None
    created_at: dt.datetime
    attachment: AttachmentInfo | None = None

    @classmethod
    def of(
        cls,
        item: TimelineItem,
        keys: dict[int, str],
        attachment: AttachmentInfo | None = None,
        *,
        own: int | None = None,
    ) -> EventRead:
        """``keys``: the keys of the events this one names (internal ids are never shown)."""
        return cls(
            event_id=item.event_key,
            room_id=item.room_id,
            seq=item.seq,
            sender_id=item.sender_id,
            kind=item.kind,
            body=item.body,
            state_type=item.state_type,
            state_key=item.state_key,
            state_value=item.state_value,
            reply_to=keys.get(item.reply_to_id) if item.reply_to_id else None,
            edits=keys.get(item.edits_id) if item.edits_id else None,
            redacts=keys.get(item.redacts_id) if item.redacts_id else None,
            redacted=item.redacted,
            txn_id=item.txn_id if own is not None and own == item.sender_id else None,
            created_at=item.created_at,
            attachment=None if item.redacted else attachment,
        )


class HistoryRead(BaseModel):
    events: list[EventRead]
    more: bool
    users: dict[int, str] = Field(description="The names of the senders and members named")


class ReceiptRead(BaseModel):
    room_id: int
    up_to_seq: int


class Acknowledged(BaseModel):
    acknowledged: bool


class UnitAcksRead(BaseModel):
    unit_id: int
    unit_name: str
    #: The unit's Hindi name, when it has one (Hindi pages show it).
    unit_name_hi: str | None = None
    acknowledged: list[MemberRead]
    pending: list[MemberRead]


class Reminded(BaseModel):
    reminded: list[int]


class TypingSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    typing: bool
    timeout_ms: int = Field(default=DEFAULT_TYPING_MS, ge=0, le=MAX_TYPING_MS)


class TypingRead(BaseModel):
    user_ids: list[int]


#: What of a stream event's data a client is shown (never internal row ids).
SHOWN_DATA = ("user_id", "user_ids", "seq")


class SyncEventRead(BaseModel):
    position: int
    kind: str
    room_id: int
    event: EventRead | None = Field(description="The timeline event this change added")
    message: str | None = Field(
        default=None, description="The key of the broadcast message acknowledged or reminded"
    )
    data: dict[str, int | list[int] | None]

    @classmethod
    def of(cls, item: SyncItem, event: EventRead | None, message: str | None) -> SyncEventRead:
        data: dict[str, int | list[int] | None] = {}
        for key in SHOWN_DATA:
            value = item.data.get(key)
            if isinstance(value, int) or (
                isinstance(value, list) and all(isinstance(v, int) for v in value)
            ):
                data[key] = value
        return cls(
            position=item.position,
            kind=item.kind,
            room_id=item.room_id,
            event=event,
            message=message,
            data=data,
        )


class SyncRead(BaseModel):
    events: list[SyncEventRead]
    next: int = Field(description="Ask from this position next time")
    users: dict[int, str]
    typing: SyncTypingRead | None = Field(
        default=None,
        description="Who else is typing in the room named by typing_room, when it changed since "
        "typing_serial (or always, without a serial)",
    )


class SyncTypingRead(BaseModel):
    room_id: int
    user_ids: list[int]
    serial: int = Field(description="Send as typing_serial next time")


SyncRead.model_rebuild()
