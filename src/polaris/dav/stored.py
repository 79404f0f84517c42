"""The chunks of Nextcloud chunked uploads in progress (``dav.chunking``), for storage
verification and garbage collection (``admin.stored_content``): they are in the blob store before
any version holds them. Keys are ``dav-upload:<upload id>/<chunk number>``. Assembling an upload
moves its chunks to a version in one transaction, so a snapshot sees them in exactly one place."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.dav.models import ChunkedUpload, ChunkedUploadPart
from polaris.storage.references import Reference
from polaris.storage.refs import ContentRef

PREFIX = "dav-upload:"


def count(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ChunkedUploadPart)) or 0)


def references(*, session: Session) -> Iterator[Reference]:
    query = select(
        ChunkedUploadPart.upload_id, ChunkedUploadPart.number, ChunkedUploadPart.content
    ).order_by(ChunkedUploadPart.upload_id, ChunkedUploadPart.number)
    with session.execute(query.execution_options(yield_per=1000)) as result:
        for upload_id, number, content in result:
            yield Reference(f"{PREFIX}{upload_id}/{number}", ContentRef.from_dict(content).chunks)


def describe(*, session: Session, keys: Collection[str]) -> dict[str, str]:
    """``chunk 3 of the Nextcloud upload "4711" of user 12`` per key of this source."""
    wanted = {
        key: key.removeprefix(PREFIX).partition("/") for key in keys if key.startswith(PREFIX)
    }
    ids = {int(upload) for upload, _, _ in wanted.values() if upload.isdigit()}
    if not ids:
        return {}
    uploads = {
        row.id: row
        for row in session.scalars(select(ChunkedUpload).where(ChunkedUpload.id.in_(ids)))
    }
    found = {}
    for key, (upload_id, _, number) in wanted.items():
        upload = uploads.get(int(upload_id)) if upload_id.isdigit() else None
        if upload is not None:
            found[key] = (
                f'chunk {number} of the Nextcloud upload "{upload.name}" of user {upload.user_id}'
            )
    return found
