"""Media: uploads are drive files, downloads are drive reads.

An upload becomes a file in the uploader's own space, in the folder "Chat attachments" (named in
the client's language), through the drive's own upload (``drive.content.commit_upload``: quota,
malware scan and quarantine, audit, change events). The media id is random and names that
version of the file. A download asks the drive whether the caller may read the file
(``drive.content.find_content``, decided by ``polaris.access`` and audited): for now the uploader
and whoever the drive lets read it; the chat domain adds the members of rooms it was sent to.

A media id that does not exist, a file the caller may not read and one in the trash all answer the
same 404 ``M_NOT_FOUND`` with the same body, each audited as a denial. Content the malware scan
holds is refused as the drive refuses it, to someone who may read the file and only to them:
403 ``M_FORBIDDEN`` (``file_quarantined``, ``scan_pending``), audited. (Synapse serves any upload
to any signed-in user who has its id.)
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from polaris.access import service as access
from polaris.access.policy import Action, Actor
from polaris.audit.context import AuditContext
from polaris.config import Settings
from polaris.drive import content as drive_content
from polaris.drive import reads, spaces
from polaris.drive import service as drive
from polaris.drive.models import FileVersion
from polaris.drive.names import normalise_name
from polaris.drive.paths import Located
from polaris.errors import Conflict, NotFound, PermissionDenied, PolarisError
from polaris.identity.models import User
from polaris.matrix.ids import is_media_id, new_media_id
from polaris.matrix.models import MatrixMedia
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore
from polaris.web.matrix_errors import MatrixError
from polaris.web.messages import N_

FOLDER = N_("Chat attachments")
#: A content type as a client may declare it (``type/subtype``, no parameters kept).
_CONTENT_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
MEDIA_KIND = "media"
NOT_FOUND = "media not found"
#: Refusals of held content (policy rule 8), which the drive gives whoever may read the file.
SCAN_CODES = frozenset({"file_quarantined", "scan_pending"})


def not_found() -> MatrixError:
    return MatrixError(404, "M_NOT_FOUND", NOT_FOUND)


def clean_content_type(declared: str | None, name: str) -> str:
    value = (declared or "").split(";")[0].strip().lower()
    if _CONTENT_TYPE.match(value):
        return value
    return drive_content.guess_content_type(name)


def _file_name(session: Session, actor: Actor, context: AuditContext, folder_id: int,
               media_id: str, wanted: str | None, content_type: str) -> str:  # fmt: skip
    """The client's file name if the drive takes it and it is free in the folder, else one made
    of the media id (the drive's names are unique per folder)."""
    fallback = media_id + (mimetypes.guess_extension(content_type) or "")
    if not wanted:
        return fallback
    try:
        name = normalise_name(wanted)
    except PolarisError:
        return fallback
    taken = drive.find_child(
        session=session, actor=actor, context=context, parent_id=folder_id, name=name
    )
    return name if taken is None else normalise_name(f"{media_id} {name}")


def store_upload(
    session: Session,
    *,
    actor: Actor,
    user_id: int,
    context: AuditContext,
    settings: Settings,
    blobs: BlobStore,
    body: ContentRef | bytes,
    file_name: str | None,
    declared_type: str | None,
    folder_name: str,
) -> MatrixMedia:
    """Record stored content as a new drive file and its media id (inside the caller's
    transaction)."""
    user = session.get(User, user_id)
    assert user is not None  # the caller was resolved from it in this request
    space = spaces.ensure_user_space(session, user, spaces.space_defaults(settings))
    assert space.root_id is not None
    folder, _ = drive.ensure_folder(
        session=session, actor=actor, context=context, parent_id=space.root_id, name=folder_name
    )
    media_id = new_media_id()
    content_type = clean_content_type(declared_type, file_name or "")
    name = _file_name(session, actor, context, folder.node.id, media_id, file_name, content_type)
    located, version, _ = drive_content.commit_upload(
        session=session,
        actor=actor,
        context=context,
        blobs=blobs,
        content=body,
        parent_id=folder.node.id,
        name=name,
    )
    row = MatrixMedia(
        media_id=media_id,
        user_id=user_id,
        node_id=located.node.id,
        version_id=version.id,
        content_type=content_type,
        upload_name=(file_name or None) and file_name[:255],
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Download:
    """An authorised, audited read of a media's bytes."""

    content_type: str
    name: str
    size: int
    etag: str
    body: Iterator[bytes]


def open_download(
    session: Session,
    *,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    sessions: sessionmaker[Session],
    media_id: str,
    images_only: bool = False,
) -> Download:
    """Authorise (every refusal the same 404, audited) and open the media's bytes; the read is
    audited by the drive (``file.read``). Inside the caller's transaction, which must commit
    before the first byte is sent. ``images_only``: anything but an image is not found (a
    thumbnail, which is the image itself until thumbnails are drawn)."""
    row = session.get(MatrixMedia, media_id) if is_media_id(media_id) else None
    try:
        if row is None:
            access.deny_missing(
                session=session,
                actor=actor,
                kind=MEDIA_KIND,
                object_id=media_id[:64],
                action=Action.READ,
                context=context,
            )
        located, version = drive_content.find_content(
            session=session,
            actor=actor,
            context=context,
            node_id=row.node_id,
            version_id=row.version_id,
        )
    except PermissionDenied as error:
        if error.code in SCAN_CODES:  # the drive's rule: only someone who may read it sees why
            raise
        raise not_found() from None
    except (NotFound, Conflict):
        raise not_found() from None
    if images_only and not row.content_type.startswith("image/"):
        raise not_found()
    return open_bytes(session, context, blobs, sessions, row, located, version)


def open_bytes(
    session: Session,
    context: AuditContext,
    blobs: BlobStore,
    sessions: sessionmaker[Session],
    media: MatrixMedia,
    located: Located,
    version: FileVersion,
) -> Download:
    """Open an authorised version's bytes through the drive's checked reader (audited there as
    ``file.read``), named and tagged as the media: the drive's way and the room's alike."""
    body = reads.open_read(
        session=session,
        context=context,
        blobs=blobs,
        sessions=sessions,
        located=located,
        version=version,
        byte_range=None,
    )
    return Download(
        content_type=media.content_type,
        name=media.upload_name or located.node.name,
        size=version.size,
        etag=f"{media.media_id}-{version.sha256[:16]}",
        body=body,
    )
