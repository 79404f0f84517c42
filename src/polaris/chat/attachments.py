"""Attachments: drive files sent into a room, shared through the drive's own share model.

Sending a file is the sender sharing it: in the send's transaction, ``drive.shares.create_share``
gives the room's audience read access (each other member of a direct room or group; the unit of a
unit channel; the sending unit with the units below for a broadcast), under the sender's
authority, audited by the drive as theirs. It is a call and not a reaction through the change
stream because it can refuse: a sender without the right to share, a file held by the malware
scan, or a member below the file's classification must stop the send itself, before anyone sees a
message pointing at a file they cannot open. A consumer could only refuse after the message was
out.

Reading an attachment is authorised by the room (a joined member, with clearance for the file's
classification at the time it was sent) and audited (``chat.attachment.read``): the id of a file
alone opens nothing. A member who joins later reads it through the room; the drive's shares made
at the send are what the drive's own pages ("shared with me") show.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Actor, ChatAction, Classification, Permission
from polaris.audit.context import AuditContext
from polaris.chat import timeline
from polaris.chat.messages import check_txn, earlier_send, record_message, repeat_of
from polaris.chat.models import (
    ATTACHMENT,
    BROADCAST,
    INVITE,
    JOIN,
    UNIT_CHANNEL,
    ChatAttachment,
    ChatEvent,
    ChatMember,
    ChatRoom,
)
from polaris.chat.rooms import require_event, require_room
from polaris.chat.texts import DEFAULT_LIMITS, ChatLimits, clean_body
from polaris.drive import service as drive
from polaris.drive import shares
from polaris.drive.models import FILE
from polaris.errors import NotFound, ValidationFailed
from polaris.identity.models import User


def send_attachment(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    room_id: int,
    node_id: int,
    caption: str | None = None,
    device_id: str | None = None,
    txn_id: str | None = None,
    limits: ChatLimits = DEFAULT_LIMITS,
) -> ChatEvent:
    """Send the drive file ``node_id`` into a room (its current version), with an optional
    caption. Refused, and nothing sent or shared, when any member (joined or invited) is below
    the file's classification (``chat_attachment_above_clearance``)."""
    check_txn(device_id, txn_id)
    room = require_room(
        session=session, actor=actor, context=context, room_id=room_id, action=ChatAction.SEND
    )
    earlier = earlier_send(session, actor.user_id, device_id, txn_id)
    if earlier is not None:
        return repeat_of(earlier, room.id)
    body = clean_body(caption, limits) if caption is not None else None
    located = drive.get_node(session=session, actor=actor, context=context, node_id=node_id)
    if located.node.kind != FILE:
        raise ValidationFailed("only a file can be sent", code="chat_attachment_not_file")
    level = located.classification
    below = _members_below(session, room, level)
    if below:
        raise ValidationFailed(
            f"{below} member(s) of the room may not see a file classified {level.name.lower()}",
            code="chat_attachment_above_clearance",
        )
    share_ids = [
        shares.create_share(
            session=session,
            actor=actor,
            context=context,
            node_id=node_id,
            subject_type=subject_type,
            subject_id=subject_id,
            permission=Permission.READ,
            include_subunits=subunits,
        ).id
        for subject_type, subject_id, subunits in _audience(session, room, actor.user_id)
    ]
    event = record_message(
        session,
        actor,
        context,
        room,
        kind=ATTACHMENT,
        body=body,
        device_id=device_id,
        txn_id=txn_id,
        detail={"node_id": node_id, "classification": level.name.lower()},
    )
    if event.kind == ATTACHMENT and session.get(ChatAttachment, event.id) is None:
        session.add(
            ChatAttachment(
                event_id=event.id,
                node_id=node_id,
                version_id=located.node.current_version_id,
                classification=int(level),
                share_ids=share_ids,
            )
        )
        session.flush()
    return event


def _members_below(session: Session, room: ChatRoom, level: Classification) -> int:
    """How many joined or invited members have a clearance below ``level``."""
    return len(
        session.scalars(
            select(ChatMember.user_id)
            .join(User, User.id == ChatMember.user_id)
            .where(
                ChatMember.room_id == room.id,
                ChatMember.membership.in_((JOIN, INVITE)),
                User.clearance < int(level),
            )
        ).all()
    )


def _audience(session: Session, room: ChatRoom, sender_id: int) -> list[tuple[str, int, bool]]:
    """The drive share subjects that stand for the room: (subject type, id, with sub-units)."""
    if room.kind == UNIT_CHANNEL and room.unit_id is not None:
        return [("unit", room.unit_id, False)]
    if room.kind == BROADCAST and room.unit_id is not None:
        return [("unit", room.unit_id, True)]
    others = session.scalars(
        select(ChatMember.user_id)
        .where(
            ChatMember.room_id == room.id,
            ChatMember.membership.in_((JOIN, INVITE)),
            ChatMember.user_id != sender_id,
        )
        .order_by(ChatMember.user_id)
    )
    return [("user", user_id, False) for user_id in others]


@dataclass(frozen=True)
class AttachmentGrant:
    """What a download of an attachment may serve: this version of this drive node."""

    event_id: int
    room_id: int
    node_id: int
    version_id: int | None
    classification: Classification


def open_attachment(
    *, session: Session, actor: Actor, context: AuditContext, event_key: str
) -> AttachmentGrant:
    """Authorise reading the file of an attachment event, for a joined member with clearance
    for it, and audit the read. A missing event, one in a room the actor is not in, one that is
    not an attachment and one above the actor's clearance all answer ``NotFound``."""
    room, event = require_event(
        session=session, actor=actor, context=context, event_key=event_key, action=ChatAction.READ
    )
    attachment = session.get(ChatAttachment, event.id)
    if attachment is None:
        raise NotFound("attachment not found", code="not_found")
    level = Classification(attachment.classification)
    require_room(
        session=session,
        actor=actor,
        context=context,
        room_id=room.id,
        action=ChatAction.READ,
        classification=level,
    )
    timeline.audit_room(
        session,
        context,
        "chat.attachment.read",
        room,
        classification=level,
        detail={
            "event_id": event.id,
            "node_id": attachment.node_id,
            "version_id": attachment.version_id,
        },
    )
    return AttachmentGrant(
        event_id=event.id,
        room_id=room.id,
        node_id=attachment.node_id,
        version_id=attachment.version_id,
        classification=level,
    )
