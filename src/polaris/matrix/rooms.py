"""Translation between the chat domain's rooms and timeline and Matrix's room ids and events.

A Matrix room id is ``!<chat room id>:<server>``; an event id is ``$<event_key>`` (the chat
event's opaque key). A chat timeline row becomes one Matrix event: ``create``, ``name``,
``topic`` and ``member`` state rows the room's state events, texts and notices
``m.room.message`` (``m.text``/``m.notice``, a reply with ``m.relates_to.m.in_reply_to``, an edit
``m.replace`` with ``m.new_content``), an attachment ``m.file`` or ``m.image`` pointing at the
media the file was uploaded as, a deletion ``m.room.redaction``. A redacted event keeps its type
and loses its content, as Matrix's redaction algorithm does.

No decision is taken here: callers read rows the chat services (and ``polaris.access``) let them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.chat.models import (
    ATTACHMENT,
    DIRECT,
    NOTICE,
    REDACTION,
    STATE,
    TEXT,
    ChatAttachment,
    ChatEvent,
)
from polaris.identity.models import User
from polaris.matrix.ids import user_id as matrix_user_id
from polaris.matrix.models import MatrixMedia
from polaris.web.matrix_errors import MatrixError

ROOM_VERSION = "10"
STATE_TYPES = {
    "create": "m.room.create",
    "name": "m.room.name",
    "topic": "m.room.topic",
    "member": "m.room.member",
}
#: The largest room id Polaris makes (SQL integer); a bigger number is no room.
MAX_ROOM_ID = 2**31 - 1


def room_matrix_id(room_id: int, server: str) -> str:
    return f"!{room_id}:{server}"


def room_id_of(matrix_id: str, server: str) -> int:
    """The chat room a Matrix room id names; 0 (no room, looked up like any other so that a
    malformed id answers as a room one is not in) for anything Polaris never made."""
    if not matrix_id.startswith("!"):
        return 0
    local, colon, domain = matrix_id[1:].partition(":")
    if not colon or domain != server or not local.isascii() or not local.isdigit():
        return 0
    number = int(local)
    return number if 0 < number <= MAX_ROOM_ID else 0


def event_matrix_id(event_key: str) -> str:
    return f"${event_key}"


def event_key_of(matrix_id: str) -> str:
    """The chat event key of a Matrix event id (``$`` and at most 48 URL-safe letters); an empty
    key, which no event has, for anything else."""
    if not matrix_id.startswith("$"):
        return ""
    key = matrix_id[1:]
    ok = 0 < len(key) <= 48 and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if ok else ""


def not_in_room(user: str, room: str) -> MatrixError:
    """Synapse's answer for a room one is not in, the same for a room that does not exist."""
    return MatrixError(403, "M_FORBIDDEN", f"User {user} not in room {room}")


def event_not_found() -> MatrixError:
    return MatrixError(404, "M_NOT_FOUND", "Could not find event")


#: A Matrix device: (Polaris user id, device id).
Device = tuple[int, str]


def sent_by(row: ChatEvent) -> Device | None:
    """The device that sent ``row`` through Matrix (None for the messenger's own sends)."""
    if row.sender_id is None or row.device_id is None:
        return None
    return (row.sender_id, row.device_id)


def with_transaction_ids(
    events: Iterable[dict[str, Any]], sent: dict[str, tuple[Device, str]], device: Device | None
) -> list[dict[str, Any]]:
    """``events`` (translated once for every reader, so never changed in place), with
    ``unsigned.transaction_id`` on those ``device`` sent: the spec gives it to the sending
    device only, and Element matches its local echo by it. ``sent``: event id → (device, txn)."""
    found: list[dict[str, Any]] = []
    for event in events:
        mine = sent.get(event["event_id"])
        if device is not None and mine is not None and mine[0] == device:
            event = {**event, "unsigned": {**event["unsigned"], "transaction_id": mine[1]}}
        found.append(event)
    return found


@dataclass
class Translator:
    """Turns chat rows into Matrix events for one request, loading what they name (user names,
    event keys, media) once each."""

    session: Session
    server: str
    #: The requesting device (user id, device id): its own sends carry ``transaction_id``.
    device: Device | None = None
    _users: dict[int, str] = field(default_factory=dict)
    _keys: dict[int, str] = field(default_factory=dict)

    def user(self, user_id: int | None) -> str:
        if user_id is None:
            return matrix_user_id("polaris", self.server)
        if user_id not in self._users:
            self.load_users([user_id])
        return self._users.get(user_id) or matrix_user_id(f"u{user_id}", self.server)

    def load_users(self, user_ids: Iterable[int | None]) -> None:
        wanted = {u for u in user_ids if u is not None and u not in self._users}
        if not wanted:
            return
        rows = self.session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
        for row in rows:
            self._users[row.id] = matrix_user_id(row.username, self.server)

    def key(self, event_id: int | None) -> str | None:
        if event_id is None:
            return None
        if event_id not in self._keys:
            found = self.session.scalar(select(ChatEvent.event_key).where(ChatEvent.id == event_id))
            if found is None:
                return None
            self._keys[event_id] = found
        return event_matrix_id(self._keys[event_id])

    def events(self, rows: list[ChatEvent], *, room_kind: str) -> list[dict[str, Any]]:
        self.load_users([r.sender_id for r in rows] + [r.state_key for r in rows])
        for row in rows:
            self._keys[row.id] = row.event_key
        return [self.event(row, room_kind=room_kind) for row in rows]

    def event(self, row: ChatEvent, *, room_kind: str) -> dict[str, Any]:
        kind, content, state_key = self._content(row, room_kind)
        event: dict[str, Any] = {
            "type": kind,
            "event_id": event_matrix_id(row.event_key),
            "sender": self.user(row.sender_id),
            "origin_server_ts": int(row.created_at.timestamp() * 1000),
            "content": content,
            "room_id": room_matrix_id(row.room_id, self.server),
            "unsigned": {},
        }
        if state_key is not None:
            event["state_key"] = state_key
        if row.kind == REDACTION:
            event["redacts"] = self.key(row.redacts_id)
            event["content"] = {"redacts": event["redacts"]}
        if row.redacted_at is not None:
            event["content"] = {} if state_key is None else event["content"]
            event["unsigned"]["redacted_because"] = {"type": "m.room.redaction"}
        if self.device is not None and sent_by(row) == self.device and row.txn_id is not None:
            event["unsigned"]["transaction_id"] = row.txn_id
        return event

    def _content(self, row: ChatEvent, room_kind: str) -> tuple[str, dict[str, Any], str | None]:
        if row.kind == STATE:
            return self._state(row, room_kind)
        if row.kind == REDACTION:
            return "m.room.redaction", {}, None
        content: dict[str, Any]
        if row.kind == ATTACHMENT:
            content = self._attachment(row)
        else:
            msgtype = "m.notice" if row.kind == NOTICE else "m.text"
            content = {"msgtype": msgtype, "body": row.body or ""}
        if row.edits_id is not None:
            new = dict(content)
            content = {
                "msgtype": new["msgtype"],
                "body": f"* {new['body']}",
                "m.new_content": new,
                "m.relates_to": {"rel_type": "m.replace", "event_id": self.key(row.edits_id)},
            }
        elif row.reply_to_id is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": self.key(row.reply_to_id)}}
        return "m.room.message", content, None

    def _state(self, row: ChatEvent, room_kind: str) -> tuple[str, dict[str, Any], str]:
        kind = STATE_TYPES.get(row.state_type or "", "m.room.unknown")
        if row.state_type == "create":
            return kind, {"creator": self.user(row.sender_id), "room_version": ROOM_VERSION}, ""
        if row.state_type == "name":
            return kind, {"name": row.body or ""}, ""
        if row.state_type == "topic":
            return kind, {"topic": row.body or ""}, ""
        content: dict[str, Any] = {"membership": row.state_value or "leave"}
        if room_kind == DIRECT:
            content["is_direct"] = True
        return kind, content, self.user(row.state_key)

    def _attachment(self, row: ChatEvent) -> dict[str, Any]:
        attachment = self.session.get(ChatAttachment, row.id)
        media = None
        if attachment is not None:
            media = self.session.scalars(
                select(MatrixMedia).where(
                    MatrixMedia.node_id == attachment.node_id,
                    MatrixMedia.version_id == attachment.version_id,
                )
            ).first()
        content_type = media.content_type if media is not None else "application/octet-stream"
        msgtype = "m.image" if content_type.startswith("image/") else "m.file"
        name = row.body or (media.upload_name if media is not None else None) or "attachment"
        content: dict[str, Any] = {"msgtype": msgtype, "body": name}
        content["info"] = {"mimetype": content_type}
        if media is not None:
            content["url"] = f"mxc://{self.server}/{media.media_id}"
        return content


def message_kind(msgtype: str) -> str | None:
    """The chat kind of a text ``msgtype``; None for an attachment's or an unknown one."""
    return {"m.text": TEXT, "m.notice": NOTICE, "m.emote": TEXT}.get(msgtype)
