"""File content: upload (a new file or a new version), download, versions and their restore.

An upload is two short transactions around the transfer: :func:`prepare_upload` refuses early what
would fail (no right, bad name, name taken, no quota, too large) before a byte is stored;
:func:`commit_upload` re-checks everything, because the world may have changed during the
transfer, and records the version. Bytes move through ``polaris.storage`` only.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor
from polaris.audit.context import AuditContext
from polaris.drive import events, repo, scanning
from polaris.drive._locate import Located, children_of, locate, require_folder, require_node
from polaris.drive.models import FILE, FileVersion
from polaris.drive.names import normalise_name
from polaris.drive.preconditions import check_if_match
from polaris.drive.service import add_version, audit_node, insert_node
from polaris.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    QuotaExceeded,
)
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore


@dataclass(frozen=True)
class UploadTarget:
    """Where an upload goes: into ``parent`` as a new file named ``name``, or onto ``existing``."""

    parent: Located | None
    existing: Located | None
    name: str

    @property
    def space_id(self) -> int:
        located = self.existing or self.parent
        assert located is not None
        return located.space.id


def guess_content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def resolve_target(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    parent_id: int | None = None,
    name: str | None = None,
    node_id: int | None = None,
    overwrite: bool = False,
    if_match: str | None = None,
    keep_both: bool = False,
) -> UploadTarget:
    """Authorise an upload and find its target; raises what the upload would fail with.

    A name in use is refused (409 ``name_taken``) unless ``overwrite`` (a new version of that
    file) or ``keep_both`` (a new file "name (2).ext", the first number free).
    """
    if node_id is not None:
        existing = require_node(
            session=session, actor=actor, context=context, node_id=node_id, action=Action.WRITE
        )
        if existing.node.kind != FILE:
            raise Conflict("a folder has no content", code="not_a_file")
        check_if_match(existing, if_match, actor.clearance)
        return UploadTarget(parent=None, existing=existing, name=existing.node.name)
    if parent_id is None or name is None:
        raise NotFound("folder not found")
    parent = require_folder(
        session=session, actor=actor, context=context, node_id=parent_id, action=Action.WRITE
    )
    name = normalise_name(name)
    clash = repo.live_child(session, parent.node.id, name)
    if clash is not None and keep_both and not overwrite:
        name = free_name(session, parent.node.id, name)
        clash = None
    if clash is None:
        if if_match not in (None, "*"):
            raise PreconditionFailed(f"{name!r} does not exist to overwrite", code="etag_mismatch")
        return UploadTarget(parent=parent, existing=None, name=name)
    if clash.kind != FILE or not overwrite:
        raise Conflict(f"{name!r} already exists in this folder", code="name_taken")
    existing = require_node(
        session=session, actor=actor, context=context, node_id=clash.id, action=Action.WRITE
    )
    check_if_match(existing, if_match, actor.clearance)
    return UploadTarget(parent=parent, existing=existing, name=name)


#: How far "name (n).ext" counts before giving up (a folder with that many copies is a mistake).
MAX_COPY_NUMBER = 1000


def numbered(name: str, number: int) -> str:
    """ "report (2).pdf" for ``number`` 2 of "report.pdf"; a dotfile or a name without an
    extension gets the number at its end."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} ({number})"
    return f"{stem} ({number}).{ext}"


def free_name(session: Session, parent_id: int, name: str) -> str:
    """The first of "name (2).ext", "name (3).ext"... that no live child of the folder has."""
    for number in range(2, MAX_COPY_NUMBER + 1):
        candidate = normalise_name(numbered(name, number))
        if repo.live_child(session, parent_id, candidate) is None:
            return candidate
    raise Conflict(f"{name!r} already exists in this folder", code="name_taken")


def prepare_upload(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    size: int | None,
    max_file_bytes: int,
    parent_id: int | None = None,
    name: str | None = None,
    node_id: int | None = None,
    overwrite: bool = False,
    if_match: str | None = None,
    keep_both: bool = False,
) -> UploadTarget:
    """Check before the transfer; ``size`` is the announced length (None when unknown)."""
    target = resolve_target(
        session=session,
        actor=actor,
        context=context,
        parent_id=parent_id,
        name=name,
        node_id=node_id,
        overwrite=overwrite,
        if_match=if_match,
        keep_both=keep_both,
    )
    if size is not None:
        if size > max_file_bytes:
            raise PayloadTooLarge(
                f"a file is at most {max_file_bytes} bytes", code="file_too_large"
            )
        space = repo.get_space(session, target.space_id)
        assert space is not None
        if space.quota_bytes is not None and space.used_bytes + size > space.quota_bytes:
            raise QuotaExceeded("the space's quota does not allow this upload")
    return target


def commit_upload(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    content: ContentRef | bytes,
    parent_id: int | None = None,
    name: str | None = None,
    node_id: int | None = None,
    overwrite: bool = False,
    if_match: str | None = None,
    keep_both: bool = False,
) -> tuple[Located, FileVersion, bool]:
    """Record content as a new file or a new version; returns (node, version, created).

    ``content`` is either a reference to stored content (its chunks durable: the large-upload
    path) or, for a small body already in memory, the bytes themselves, stored here only once the
    upload is authorised, so that a refused request leaves nothing behind.
    """
    target = resolve_target(
        session=session,
        actor=actor,
        context=context,
        parent_id=parent_id,
        name=name,
        node_id=node_id,
        overwrite=overwrite,
        if_match=if_match,
        keep_both=keep_both,
    )
    size = len(content) if isinstance(content, bytes) else content.size
    if not repo.reserve_bytes(session, target.space_id, size):
        raise QuotaExceeded("the space's quota does not allow this upload")
    stored = blobs.put_bytes(content) if isinstance(content, bytes) else content
    created = target.existing is None
    if target.existing is not None:
        located = target.existing
    else:
        assert target.parent is not None
        try:
            node = insert_node(
                session, actor=actor, parent=target.parent, name=target.name, kind=FILE
            )
        except Conflict:
            if not (overwrite or keep_both):
                raise
            # A concurrent upload created the name since we looked: become its next version
            # (which reserves the bytes again: this attempt's reservation is given back).
            repo.release_bytes(session, target.space_id, size)
            return commit_upload(
                session=session,
                actor=actor,
                context=context,
                blobs=blobs,
                content=stored,
                parent_id=parent_id,
                name=name,
                overwrite=overwrite,
                if_match=if_match,
                keep_both=keep_both,
            )
        located = children_of(target.parent, [node], [])[0]
        events.node_created(session, located, actor=actor)
    version = add_version(
        session,
        actor=actor,
        blobs=blobs,
        located=located,
        content=stored,
        content_type=guess_content_type(target.name),
        first=created,
    )
    audit_node(
        session,
        context,
        "file.create" if created else "file.write",
        located,  # add_version updated the node in place
        version_hash=stored.sha256,
        detail={"version": version.number, "size": stored.size},
    )
    return located, version, created


def content_etag(located: Located, version: FileVersion) -> str:
    """The ETag of a version's content: the node's for the current one (what ``If-Match`` on an
    upload compares), a version-specific one for older versions."""
    if version.id == located.node.current_version_id:
        return located.node.etag
    return f"v{version.id}-{version.sha256[:16]}"


def find_content(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    version_id: int | None = None,
    check_scan: bool = True,
) -> tuple[Located, FileVersion]:
    """Authorise reading a file's content and find the version (the current one unless given).

    Content the malware scan holds from the actor is refused (``drive.scanning``:
    ``file_quarantined``, ``scan_pending``), audited like any denial. ``check_scan`` off is for
    a page that shows the file's details and its scan state without any of its content.

    Not audited yet: the caller checks its preconditions (a 304 sends nothing), then has the
    :func:`read_record` committed before a byte leaves (``drive.reads``).
    """
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.READ
    )
    if located.node.kind != FILE:
        raise Conflict("a folder has no content", code="not_a_file")
    wanted = version_id if version_id is not None else located.node.current_version_id
    version = session.get(FileVersion, wanted) if wanted is not None else None
    if version is None or version.node_id != located.node.id:
        raise NotFound("version not found")
    if check_scan:
        scanning.require_scanned(
            session=session, actor=actor, context=context, located=located, version=version
        )
    return located, version


def read_record(
    context: AuditContext,
    located: Located,
    version: FileVersion,
    *,
    byte_range: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The ``file.read`` record of a version's content (or a range of it): the keywords of
    ``audit.service.append`` but the session."""
    detail: dict[str, object] = {"version": version.number}
    if byte_range is not None:
        detail["range"] = f"{byte_range[0]}-{byte_range[1] - 1}"
    return {
        "context": context,
        "action": "file.read",
        "object_type": "node",
        "object_id": located.node.id,
        "version_hash": version.sha256,
        "classification": located.classification.name.lower(),
        "detail": detail,
    }


def audit_preview(
    session: Session,
    context: AuditContext,
    located: Located,
    version: FileVersion,
    *,
    shown: str,
) -> None:
    """A look at content drawn by Polaris (a thumbnail, a page image, the text) is a read too."""
    detail: dict[str, object] = {"version": version.number, "shown": shown}
    audit_node(
        session, context, "file.preview", located, version_hash=version.sha256, detail=detail
    )


def list_versions(
    *, session: Session, actor: Actor, context: AuditContext, node_id: int
) -> tuple[Located, list[FileVersion]]:
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.READ
    )
    if located.node.kind != FILE:
        raise Conflict("a folder has no versions", code="not_a_file")
    return located, repo.versions_of(session, node_id)


def restore_version(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    node_id: int,
    version_id: int,
) -> tuple[Located, FileVersion]:
    """Make an old version the newest, as a new version (history is never rewritten)."""
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.WRITE
    )
    old = session.get(FileVersion, version_id)
    if old is None or old.node_id != node_id:
        # Not this file's: audited like the file itself would be, if it were hidden.
        access.deny_missing(
            session=session,
            actor=actor,
            kind="version",
            object_id=version_id,
            action=Action.WRITE,
            context=context,
        )
    if not repo.reserve_bytes(session, located.space.id, old.size):
        raise QuotaExceeded("the space's quota does not allow another version")
    version = add_version(
        session,
        actor=actor,
        blobs=blobs,
        located=located,
        content=ContentRef.from_dict(old.content),
        content_type=old.content_type,
        restored_from=old.id,
    )
    final = locate(session, node_id)
    assert final is not None
    audit_node(
        session,
        context,
        "file.restore_version",
        final,
        version_hash=version.sha256,
        detail={"from_version": old.number, "version": version.number},
    )
    return final, version
