"""A room's whole record for an inquiry: every event with the text it had (edits and deleted
messages included: the rows keep them), the members and every membership change, and each
attachment with the drive node, version and SHA-256 that were sent.

Administrators only, decided and audited by ``access.require_chat_export``: anyone else gets the
answer a missing room gets, so an export cannot be used to learn which rooms exist. An export
needs a reason, and is itself audited (``chat.export``: who, which room, why, in what format).

Two shapes: :func:`as_json` (the record for a program) and :func:`as_transcript` (plain text a
person reads, every time in Indian Standard Time with the zone, its labels from the catalogue in
English or Hindi: ``LABELS``). Both are built from one :class:`RoomRecord`, read in one
transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.chat import timeline
from polaris.chat.models import ATTACHMENT, ChatAttachment, ChatEvent, ChatMember, ChatRoom
from polaris.clock import utcnow
from polaris.drive.models import FileVersion, Node
from polaris.errors import NotFound, ValidationFailed
from polaris.identity.models import Unit, User
from polaris.web.i18n import LANGUAGES, translations
from polaris.web.messages import N_

FORMATS = ("json", "text")
FORMAT_NAME = "polaris-chat-export/1"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
MAX_REASON_CHARS = 500  # the audit record's reason column


def ist(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in IST with its offset (``2026-12-06T20:30:00+05:30``)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(IST).isoformat(timespec="seconds")


def ist_text(moment: dt.datetime | None) -> str:
    """``2026-12-06 20:30:00 IST``, for the transcript."""
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S IST")


def clean_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise ValidationFailed("give the reason for the export", code="reason_required")
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationFailed(
            f"the reason is longer than {MAX_REASON_CHARS} characters", code="reason_too_long"
        )
    return reason


@dataclass(frozen=True)
class RoomRecord:
    """Everything exported, as plain data (JSON-ready)."""

    data: dict[str, Any]


def export_room(
    *,
    session: Session,
    actor: Actor | None,
    context: AuditContext,
    room_id: int,
    reason: str,
    fmt: str = "json",
) -> RoomRecord:
    """The room's record, after the decision (``actor`` None: the operator at the command line)
    and with its audit record. ``NotFound`` alike for a missing room and a non-administrator."""
    if fmt not in FORMATS:
        raise ValidationFailed("the format is json or text", code="export_format")
    if actor is not None:
        _, facts = timeline.facts(session, room_id, actor.user_id)
        access.require_chat_export(session=session, actor=actor, room=facts, context=context)
    reason = clean_reason(reason)
    room = session.get(ChatRoom, room_id)
    if room is None:  # the command line: no decision to make, but nothing to export either
        raise NotFound(access.CHAT_ROOM_MISSING, code="not_found")
    record = _read(session, room)
    record["exported_at"] = ist(utcnow())
    record["exported_by"] = None if actor is None else actor.user_id
    exporter = None if actor is None else session.get(User, actor.user_id)
    if exporter is not None:
        record["users"][str(exporter.id)] = {
            "username": exporter.username,
            "full_name": exporter.full_name,
        }
    record["reason"] = reason
    audit.append(
        session=session,
        context=context,
        action="chat.export",
        object_type="chat_room",
        object_id=room.id,
        reason=reason,
        detail={"format": fmt, "events": len(record["events"]), "kind": room.kind},
    )
    return RoomRecord(record)


def _read(session: Session, room: ChatRoom) -> dict[str, Any]:
    events = list(
        session.scalars(
            select(ChatEvent).where(ChatEvent.room_id == room.id).order_by(ChatEvent.seq)
        )
    )
    seqs = {event.id: event.seq for event in events}
    members = list(
        session.scalars(
            select(ChatMember).where(ChatMember.room_id == room.id).order_by(ChatMember.user_id)
        )
    )
    attachments = _attachments(session, [e.id for e in events if e.kind == ATTACHMENT])
    user_ids = {m.user_id for m in members} | {
        i for e in events for i in (e.sender_id, e.state_key, e.redacted_by) if i is not None
    }
    if room.creator_id is not None:
        user_ids.add(room.creator_id)
    users = {
        user.id: {"username": user.username, "full_name": user.full_name}
        for user in session.scalars(select(User).where(User.id.in_(sorted(user_ids))))
    }
    unit = session.get(Unit, room.unit_id) if room.unit_id is not None else None
    return {
        "format": FORMAT_NAME,
        "room": {
            "id": room.id,
            "kind": room.kind,
            "name": room.name,
            "topic": room.topic,
            "unit_id": room.unit_id,
            "unit_code": unit.code if unit is not None else None,
            "creator_id": room.creator_id,
            "created_at": ist(room.created_at),
        },
        "members": [
            {
                "user_id": m.user_id,
                "membership": m.membership,
                "role": m.role,
                "since": ist(m.since),
            }
            for m in members
        ],
        "membership_changes": [
            {
                "seq": e.seq,
                "at": ist(e.created_at),
                "user_id": e.state_key,
                "membership": e.state_value,
                "by": e.sender_id,
            }
            for e in events
            if e.state_type == "member"
        ],
        "events": [_event(e, seqs, attachments.get(e.id)) for e in events],
        "attachments": [
            {"seq": seqs[event_id], **info} for event_id, info in sorted(attachments.items())
        ],
        "users": {str(user_id): users[user_id] for user_id in sorted(users)},
    }


def _event(
    event: ChatEvent, seqs: dict[int, int], attachment: dict[str, Any] | None
) -> dict[str, Any]:
    """One event as stored: the text is there even when members see the message deleted."""
    return {
        "seq": event.seq,
        "event_key": event.event_key,
        "kind": event.kind,
        "sender_id": event.sender_id,
        "at": ist(event.created_at),
        "body": event.body,
        "state_type": event.state_type,
        "state_key": event.state_key,
        "state_value": event.state_value,
        "reply_to_seq": seqs.get(event.reply_to_id) if event.reply_to_id else None,
        "edits_seq": seqs.get(event.edits_id) if event.edits_id else None,
        "redacts_seq": seqs.get(event.redacts_id) if event.redacts_id else None,
        "redacted_at": ist(event.redacted_at),
        "redacted_by": event.redacted_by,
        "purged_at": ist(event.purged_at),
        "device_id": event.device_id,
        "attachment": attachment,
    }


def _attachments(session: Session, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(event_ids), 500):
        rows = session.execute(
            select(ChatAttachment, Node.name, FileVersion)
            .outerjoin(Node, Node.id == ChatAttachment.node_id)
            .outerjoin(FileVersion, FileVersion.id == ChatAttachment.version_id)
            .where(ChatAttachment.event_id.in_(event_ids[start : start + 500]))
        ).all()
        for attachment, name, version in rows:
            found[attachment.event_id] = {
                "node_id": attachment.node_id,
                "version_id": attachment.version_id,
                "version_number": version.number if version is not None else None,
                "name": name,
                "size": version.size if version is not None else None,
                "content_type": version.content_type if version is not None else None,
                "sha256": version.sha256 if version is not None else None,
                "classification": attachment.classification,
            }
    return found


def as_json(record: RoomRecord) -> str:
    return json.dumps(record.data, ensure_ascii=False, indent=2) + "\n"


#: The transcript's labels, translated into the language asked for (``%(name)s`` filled after).
LABELS = {
    "system": N_("(system)"),
    "user": N_("user %(id)s"),
    "title": N_("Polaris chat export (%(format)s)"),
    "room": N_("Room %(id)s: %(name)s [%(kind)s]"),
    "unit": N_(", unit %(code)s"),
    "created": N_("Created %(at)s by %(who)s"),
    "exported": N_("Exported %(at)s by %(who)s; reason: %(reason)s"),
    "operator": N_("the operator (command line)"),
    "members": N_("Members now:"),
    "member": N_("%(who)s: %(membership)s, %(role)s, since %(at)s"),
    "timeline": N_("Timeline:"),
    "membership_of": N_("membership of %(who)s -> %(value)s"),
    "created_room": N_("created the room (%(kind)s)"),
    "set_name": N_("set the name to %(value)s"),
    "set_topic": N_("set the topic to %(value)s"),
    "set_other": N_("set the %(what)s to %(value)s"),
    "deleted_message": N_("deleted message #%(seq)s"),
    "edit_of": N_("edit of #%(seq)s"),
    "reply_to": N_("reply to #%(seq)s"),
    "file": N_(
        "file %(name)s: node %(node)s, version %(version)s (no. %(number)s), "
        "%(size)s bytes, sha256 %(sha256)s"
    ),
    "deleted_at": N_("deleted %(at)s by %(who)s"),
    "purged_at": N_("text removed by retention %(at)s"),
}


class _Labels:
    """The transcript's labels in one language (English: the texts as written)."""

    def __init__(self, language: str) -> None:
        self.catalogue = translations(language if language in LANGUAGES else "en")

    def __call__(self, key: str, **values: object) -> str:
        return self.catalogue.gettext(LABELS[key]) % values


def as_transcript(record: RoomRecord, language: str = "en") -> str:
    """The record as text a person reads, with labels in ``language`` (``en`` or ``hi``): one
    line an event, times in IST. Names, texts, kinds and roles stay as stored."""
    data = record.data
    users: dict[str, dict[str, str]] = data["users"]
    label = _Labels(language)

    def who(user_id: int | None) -> str:
        if user_id is None:
            return label("system")
        user = users.get(str(user_id))
        return f"{user['full_name']} ({user['username']})" if user else label("user", id=user_id)

    room = data["room"]
    exporter = label("operator") if data["exported_by"] is None else who(data["exported_by"])
    lines = [
        label("title", format=data["format"]),
        label("room", id=room["id"], name=room["name"], kind=room["kind"])
        + (label("unit", code=room["unit_code"]) if room["unit_code"] else ""),
        label("created", at=_shown(room["created_at"]), who=who(room["creator_id"])),
        label("exported", at=_shown(data["exported_at"]), who=exporter, reason=data["reason"]),
        "",
        label("members"),
    ]
    lines += [
        "  "
        + label(
            "member",
            who=who(m["user_id"]),
            membership=m["membership"],
            role=m["role"],
            at=_shown(m["since"]),
        )
        for m in data["members"]
    ]
    lines += ["", label("timeline")]
    for event in data["events"]:
        lines.append(_line(event, who, label))
    return "\n".join(lines) + "\n"


def _shown(iso: str | None) -> str:
    return ist_text(dt.datetime.fromisoformat(iso)) if iso else "-"


def _line(event: dict[str, Any], who: Any, label: _Labels) -> str:
    head = f"[{_shown(event['at'])}] #{event['seq']} {who(event['sender_id'])}"
    kind = event["kind"]
    if kind == "state":
        state = event["state_type"]
        if state == "member":
            changed = label(
                "membership_of", who=who(event["state_key"]), value=event["state_value"]
            )
            return f"{head}: {changed}"
        if state == "create":
            return f"{head}: {label('created_room', kind=event['state_value'])}"
        if state in ("name", "topic"):
            return f"{head}: {label('set_' + state, value=repr(event['body']))}"
        return f"{head}: {label('set_other', what=state, value=repr(event['body']))}"
    if kind == "redaction":
        return f"{head}: {label('deleted_message', seq=event['redacts_seq'])}"
    tags = []
    if event["edits_seq"]:
        tags.append(label("edit_of", seq=event["edits_seq"]))
    if event["reply_to_seq"]:
        tags.append(label("reply_to", seq=event["reply_to_seq"]))
    if kind != "text":
        tags.append(kind)
    text = head + (f" ({', '.join(tags)})" if tags else "")
    text += f": {event['body']}" if event["body"] is not None else ""
    attachment = event["attachment"]
    if attachment:
        text += "\n    " + label(
            "file",
            name=repr(attachment["name"]),
            node=attachment["node_id"],
            version=attachment["version_id"],
            number=attachment["version_number"],
            size=attachment["size"],
            sha256=attachment["sha256"],
        )
    if event["redacted_at"]:
        text += "\n    " + label(
            "deleted_at", at=_shown(event["redacted_at"]), who=who(event["redacted_by"])
        )
    if event["purged_at"]:
        text += "\n    " + label("purged_at", at=_shown(event["purged_at"]))
    return text


def render(record: RoomRecord, fmt: str, language: str = "en") -> str:
    """The file: JSON (its keys and values as stored, whatever the language) or the transcript
    with labels in ``language``."""
    return as_json(record) if fmt == "json" else as_transcript(record, language)
