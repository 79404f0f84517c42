"""Tables of the messenger (docs/chat.md, "The model").

A room's timeline is ``chat_event``: messages, edits, redactions and state changes (name, topic,
membership) in one ordered list per room (``seq``, given under the room row's lock), each with an
opaque ``event_key`` for clients (a Matrix event id). Edits and redactions never overwrite what
was said: an edit is a new event naming the one it replaces; a redaction hides an event from the
members but keeps it for an inquiry's export and for retention.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime

DIRECT = "direct"
GROUP = "group"
UNIT_CHANNEL = "unit_channel"
BROADCAST = "broadcast"
ROOM_KINDS = (DIRECT, GROUP, UNIT_CHANNEL, BROADCAST)

INVITE = "invite"
JOIN = "join"
LEAVE = "leave"
BAN = "ban"
MEMBERSHIPS = (INVITE, JOIN, LEAVE, BAN)

MEMBER = "member"
MODERATOR = "moderator"
OWNER = "owner"
ROLES = (MEMBER, MODERATOR, OWNER)

TEXT = "text"
NOTICE = "notice"
ATTACHMENT = "attachment"
STATE = "state"
REDACTION = "redaction"
EVENT_KINDS = (TEXT, NOTICE, ATTACHMENT, STATE, REDACTION)
#: Kinds that count as unread and appear as messages.
MESSAGE_KINDS = (TEXT, NOTICE, ATTACHMENT)


class ChatRoom(Base):
    __tablename__ = "chat_room"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str | None] = mapped_column(Text)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: The unit of a unit channel, or the sending unit of a broadcast.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    #: ``<low user id>:<high user id>`` for a direct room: one per pair.
    direct_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The last ``seq`` given in this room (the counter ``chat_event.seq`` takes from).
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatMember(Base):
    __tablename__ = "chat_member"

    room_id: Mapped[int] = mapped_column(ForeignKey("chat_room.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id"), primary_key=True, index=True
    )
    membership: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default=MEMBER)
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Messages from others after this member's receipt, kept up to date (``chat.unread``).
    unread: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ChatEvent(Base):
    __tablename__ = "chat_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(48), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("chat_room.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str | None] = mapped_column(Text)
    #: For a state event: what changed (``create``, ``name``, ``topic``, ``member``) and, for a
    #: membership, whose (the user id) and to what. A name or topic event holds the new text in
    #: ``body`` (None: the topic was cleared).
    state_type: Mapped[str | None] = mapped_column(String(16))
    state_key: Mapped[int | None] = mapped_column(Integer)
    state_value: Mapped[str | None] = mapped_column(String(16))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("chat_event.id"))
    #: This event replaces the text of that one (an edit), or redacts it (a redaction).
    edits_id: Mapped[int | None] = mapped_column(ForeignKey("chat_event.id"), index=True)
    redacts_id: Mapped[int | None] = mapped_column(ForeignKey("chat_event.id"))
    redacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    redacted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    txn_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Retention removed the text (``polaris.chat.retention``): ``body`` is None for good.
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("room_id", "seq", name="uq_chat_event_room_seq"),
        UniqueConstraint("sender_id", "device_id", "txn_id", name="uq_chat_event_txn"),
    )


class ChatReceipt(Base):
    """How far a user has read a room: every event up to ``up_to_seq``."""

    __tablename__ = "chat_receipt"

    room_id: Mapped[int] = mapped_column(ForeignKey("chat_room.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    up_to_seq: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BroadcastAck(Base):
    """One recipient of a broadcast message, in the unit they were in when it was sent."""

    __tablename__ = "chat_broadcast_ack"

    event_id: Mapped[int] = mapped_column(ForeignKey("chat_event.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_chat_broadcast_ack_user", "user_id", "acknowledged_at"),)


class ChatAttachment(Base):
    """A drive node sent into a room: which version, at what classification, through which
    drive shares."""

    __tablename__ = "chat_attachment"

    event_id: Mapped[int] = mapped_column(ForeignKey("chat_event.id"), primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("file_version.id"))
    classification: Mapped[int] = mapped_column(Integer)
    share_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
