"""Timeline events as the API and the pages show them: keys instead of row ids, the names of the
people named, and an attachment's file name and size (read through the room's grant, not the
drive's permissions: a member who joined later sees what the room shows)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.chat.messages import TimelineItem
from polaris.chat.models import ChatAttachment, ChatEvent
from polaris.chat.schemas import AttachmentInfo, EventRead
from polaris.drive.models import FileVersion, Node
from polaris.identity.models import User


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[n : n + 500] for n in range(0, len(ids), 500)]


def event_keys(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i})
    found: dict[int, str] = {}
    for chunk in _chunks(wanted):
        found.update(
            session.execute(
                select(ChatEvent.id, ChatEvent.event_key).where(ChatEvent.id.in_(chunk))
            ).all()
        )
    return found


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i})
    found: dict[int, str] = {}
    for chunk in _chunks(wanted):
        found.update(
            session.execute(select(User.id, User.full_name).where(User.id.in_(chunk))).all()
        )
    return found


def attachment_info(session: Session, event_ids: Iterable[int]) -> dict[int, AttachmentInfo]:
    wanted = sorted(set(event_ids))
    found: dict[int, AttachmentInfo] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(ChatAttachment.event_id, Node.name, FileVersion.size, FileVersion.content_type)
            .join(Node, Node.id == ChatAttachment.node_id)
            .outerjoin(FileVersion, FileVersion.id == ChatAttachment.version_id)
            .where(ChatAttachment.event_id.in_(chunk))
        ).all()
        for event_id, name, size, content_type in rows:
            found[event_id] = AttachmentInfo(name=name, size=size, content_type=content_type)
    return found


def present(
    session: Session, items: list[TimelineItem], viewer_id: int
) -> tuple[list[EventRead], dict[int, str]]:
    """The events as ``viewer_id`` sees them, and the names of everyone they name."""
    keys = event_keys(
        session, [i for item in items for i in (item.reply_to_id, item.edits_id, item.redacts_id)]
    )
    files = attachment_info(session, [item.id for item in items if item.kind == "attachment"])
    names = user_names(session, [i for item in items for i in (item.sender_id, item.state_key)])
    shown = [EventRead.of(item, keys, files.get(item.id), own=viewer_id) for item in items]
    return shown, names


def present_one(session: Session, row: ChatEvent, user_id: int) -> EventRead:
    """One event as ``user_id`` sees it (the answer to a send, edit or delete)."""
    shown, _ = present(session, [TimelineItem.of(row)], user_id)
    return shown[0]
