"""Serving an attachment's bytes: authorised by the room, read through the drive's own reader.

``attachments.open_attachment`` decides (a joined member cleared for the file, audited as
``chat.attachment.read``) and names the version sent. The bytes then come from the drive's
checked reader (``drive.reads.open_read``: manifest and first chunk checked before the status
line, a ``file.read`` record written before a byte leaves). A member who joined after the send
has no drive share of the file: the room's grant is what lets them read it. Content the malware
scan holds is refused as the drive refuses it (``drive.scanning.require_scan_cleared``, policy
rule 8, audited): 403 ``file_quarantined`` to everyone when infected, 403 ``scan_pending`` to
all but its uploader while its scan is pending or failed.
"""

from __future__ import annotations

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.chat import attachments
from polaris.db.uow import transaction
from polaris.drive import reads, scanning
from polaris.drive import service as drive
from polaris.errors import NotFound
from polaris.instance import Instance
from polaris.web.downloads import content_disposition


def download(
    session: Session, actor: Actor, context: AuditContext, instance: Instance, event_key: str
) -> Response:
    with transaction(session):
        grant = attachments.open_attachment(
            session=session, actor=actor, context=context, event_key=event_key
        )
        if grant.version_id is None:
            raise NotFound("attachment not found")
        version = drive.get_version(session, grant.version_id)
        located = drive.relocate(session, grant.node_id)
        if located.in_trash:
            raise NotFound("attachment not found")
        scanning.require_scan_cleared(
            session=session, actor=actor, context=context, located=located, version=version
        )
        body = reads.open_read(
            session=session,
            context=context,
            blobs=instance.blobs,
            sessions=instance.sessions,
            located=located,
            version=version,
            byte_range=None,
        )
        name = located.node.name
        size = version.size
        media_type = version.content_type or "application/octet-stream"
    headers = {
        "Content-Disposition": content_disposition(name),
        "Content-Length": str(size),
        "Cache-Control": "private, no-cache",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(body, media_type=media_type, headers=headers)
