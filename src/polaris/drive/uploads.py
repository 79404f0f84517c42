"""Resumable uploads (tus 1.0): the service side. The protocol's HTTP lives in ``api_tus``.

Every chunk a request brings is stored (encrypted) as soon as it is complete, and the upload's
offset is committed right after, so a killed server or a dropped connection loses at most the chunk
in flight: a client asks for the offset (HEAD) and resumes. A request that ends cleanly, or whose
client disconnects, stores its partial last chunk too (a shorter chunk is valid). When the offset
reaches the length, the content becomes a new file or version through ``content.commit_upload``,
with the same checks as a plain upload.

The SHA-256 of the whole file is kept running in this process between requests; when it is not
here (a restart, another node), it is computed again from the stored chunks at completion.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Resource
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import content, uploads_repo
from polaris.drive._locate import Located
from polaris.drive.models import FileVersion, Upload
from polaris.errors import Conflict, NotFound
from polaris.storage.refs import EMPTY_SHA256, ChunkRef, ContentRef
from polaris.storage.store import BlobStore

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

_running_hashes: dict[str, tuple[int, Hash]] = {}
_hash_lock = threading.Lock()


def create_upload(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    length: int,
    max_file_bytes: int,
    expiry: dt.timedelta,
    parent_id: int | None = None,
    name: str | None = None,
    node_id: int | None = None,
    overwrite: bool = False,
    if_match: str | None = None,
    keep_both: bool = False,
) -> Upload:
    """Check the upload as a plain one would be checked, then record where it goes.

    With ``keep_both`` a name in use is replaced now by the first free "name (n).ext", which the
    upload keeps (a clash that appears before it completes is then ``name_taken``)."""
    now = utcnow()
    expire_uploads(session=session, now=now)
    target = content.prepare_upload(
        session=session,
        actor=actor,
        context=context,
        size=length,
        max_file_bytes=max_file_bytes,
        parent_id=parent_id,
        name=name,
        node_id=node_id,
        overwrite=overwrite,
        if_match=if_match,
        keep_both=keep_both,
    )
    upload = Upload(
        id=secrets.token_urlsafe(24),
        user_id=actor.user_id,
        parent_id=target.parent.node.id if target.parent else 0,
        name=target.name,
        overwrite=overwrite or node_id is not None,
        if_match=if_match,
        length=length,
        offset=0,
        chunks=[],
        created_at=now,
        expires_at=now + expiry,
        node_id=node_id,
    )
    session.add(upload)
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="upload.create",
        object_type="upload",
        object_id=upload.id,
        detail={"parent_id": upload.parent_id, "node_id": node_id, "length": length},
    )
    return upload


UPLOAD_KIND = "upload"


def get_upload(*, session: Session, actor: Actor, context: AuditContext, upload_id: str) -> Upload:
    """The caller's own upload, unexpired; NotFound otherwise (tus answers 404).

    Someone else's upload and an id that does not exist are both audited denials after the same
    one query, so neither the answer nor its time says which it was.
    """
    upload = session.get(Upload, upload_id)
    if upload is None:
        access.deny_missing(
            session=session,
            actor=actor,
            kind=UPLOAD_KIND,
            object_id=upload_id,
            action=Action.WRITE,
            context=context,
        )
    access.require(
        session=session,
        actor=actor,
        action=Action.WRITE,
        resource=Resource(kind=UPLOAD_KIND, id=upload_id, unit_id=None, owner_id=upload.user_id),
        context=context,
    )
    if upload.expires_at <= utcnow():
        raise NotFound("the upload expired", code="upload_expired")
    return upload


def running_hash(upload: Upload) -> Hash | None:
    """The SHA-256 state covering exactly ``upload.offset`` bytes, if this process has it."""
    with _hash_lock:
        if upload.offset == 0:
            return hashlib.sha256()
        found = _running_hashes.get(upload.id)
    if found is None or found[0] != upload.offset:
        return None
    return found[1].copy()


def record_progress(
    *,
    session: Session,
    upload: Upload,
    from_offset: int,
    chunks: list[ChunkRef],
    digest: Hash | None,
) -> int:
    """Append durably stored chunks; Conflict if another request moved the offset meanwhile."""
    added = sum(chunk.size for chunk in chunks)
    new_offset = from_offset + added
    all_chunks = [*upload.chunks, *[[c.chunk_id, c.size] for c in chunks]]
    moved = uploads_repo.advance_upload(
        session, upload.id, from_offset=from_offset, to_offset=new_offset, chunks=all_chunks
    )
    if not moved:
        raise Conflict("another request changed this upload", code="offset_mismatch")
    session.expire(upload)
    with _hash_lock:
        if digest is not None:
            _running_hashes[upload.id] = (new_offset, digest.copy())
        else:
            _running_hashes.pop(upload.id, None)
    return new_offset


def complete_upload(
    *, session: Session, actor: Actor, context: AuditContext, blobs: BlobStore, upload: Upload
) -> tuple[Located, FileVersion]:
    """Turn a finished upload into a file version (the checks of a plain upload apply)."""
    chunks = tuple(ChunkRef(str(cid), int(size)) for cid, size in upload.chunks)  # type: ignore[call-overload]
    with _hash_lock:
        found = _running_hashes.pop(upload.id, None)
    if found is not None and found[0] == upload.length:
        sha256 = found[1].hexdigest()
    else:
        sha256 = _rehash(blobs, chunks)
    stored = ContentRef(chunks=chunks, size=upload.length, sha256=sha256)
    located, version, _ = content.commit_upload(
        session=session,
        actor=actor,
        context=context,
        blobs=blobs,
        content=stored,
        parent_id=upload.parent_id if upload.node_id is None else None,
        name=upload.name if upload.node_id is None else None,
        node_id=upload.node_id,
        overwrite=upload.overwrite,
        if_match=upload.if_match,
    )
    uploads_repo.delete_upload(session, upload.id)
    return located, version


def _rehash(blobs: BlobStore, chunks: tuple[ChunkRef, ...]) -> str:
    if not chunks:
        return EMPTY_SHA256
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(blobs.read_chunk(chunk.chunk_id, expected_size=chunk.size))
    return digest.hexdigest()


def terminate_upload(
    *, session: Session, actor: Actor, context: AuditContext, upload_id: str
) -> None:
    get_upload(session=session, actor=actor, context=context, upload_id=upload_id)  # live, theirs
    uploads_repo.delete_upload(session, upload_id)
    with _hash_lock:
        _running_hashes.pop(upload_id, None)
    audit.append(
        session=session,
        context=context,
        action="upload.terminate",
        object_type="upload",
        object_id=upload_id,
    )


def expire_uploads(*, session: Session, now: dt.datetime | None = None) -> int:
    """Forget abandoned uploads (their chunks, unreferenced, go with garbage collection)."""
    return uploads_repo.delete_expired_uploads(session, now or utcnow())
