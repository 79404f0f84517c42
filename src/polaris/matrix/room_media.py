"""Media sent into a room: readable by the room's members, decided by the room.

Sending an ``m.file`` shares the drive file with the room's members of that moment (the chat
domain's ``send_attachment``); someone who joins later has no drive share of it. For them, and for
anyone whose drive access to the file ended while they stayed in the room, a download of the
media is authorised by the room: ``chat.attachments.open_attachment`` (a joined member cleared
for the file's classification, decided by ``polaris.access`` and audited as
``chat.attachment.read``), then the drive's checked reader (``drive.reads.open_read``, audited as
``file.read``). A media in no room of the caller goes the drive's way (``matrix.media``). Every
refusal is the same 404 as a missing media id, but content the malware scan holds: the room let
the caller see it, so it is refused with its reason as the drive refuses it (403
``file_quarantined`` or ``scan_pending``, audited).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.chat import attachments
from polaris.chat.models import JOIN, ChatAttachment, ChatEvent, ChatMember
from polaris.drive import scanning
from polaris.drive import service as drive
from polaris.drive.models import Node
from polaris.errors import NotFound, PermissionDenied
from polaris.matrix.ids import is_media_id
from polaris.matrix.media import Download, not_found, open_bytes
from polaris.matrix.models import MatrixMedia
from polaris.storage.store import BlobStore


def attachment_in_my_rooms(session: Session, user_id: int, media_id: str) -> str | None:
    """The event key of an attachment of this media in a room the user has joined (the newest),
    or None: which way a download goes, not whether it is allowed."""
    if not is_media_id(media_id):
        return None
    media = session.get(MatrixMedia, media_id)
    if media is None:
        return None
    return session.scalar(
        select(ChatEvent.event_key)
        .join(ChatAttachment, ChatAttachment.event_id == ChatEvent.id)
        .join(ChatMember, ChatMember.room_id == ChatEvent.room_id)
        .where(
            ChatAttachment.node_id == media.node_id,
            ChatAttachment.version_id == media.version_id,
            ChatEvent.redacted_at.is_(None),
            ChatMember.user_id == user_id,
            ChatMember.membership == JOIN,
        )
        .order_by(ChatEvent.id.desc())
        .limit(1)
    )


def open_room_download(
    session: Session,
    *,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    sessions: sessionmaker[Session],
    media_id: str,
    event_key: str,
) -> Download:
    """Authorise through the room and open the bytes (inside the caller's transaction, which
    must commit before the first byte is sent)."""
    media = session.get(MatrixMedia, media_id)
    try:
        grant = attachments.open_attachment(
            session=session, actor=actor, context=context, event_key=event_key
        )
        if media is None or grant.version_id is None or session.get(Node, grant.node_id) is None:
            raise NotFound("attachment not found")
        located = drive.relocate(session, grant.node_id)
        version = drive.get_version(session, grant.version_id)
        if located.in_trash:
            raise NotFound("attachment not found")
    except (NotFound, PermissionDenied):
        raise not_found() from None
    # The room let the caller see the attachment: held content is refused with its reason, as
    # the drive and the messenger's own download refuse it (403, audited).
    scanning.require_scan_cleared(
        session=session, actor=actor, context=context, located=located, version=version
    )
    return open_bytes(session, context, blobs, sessions, media, located, version)
