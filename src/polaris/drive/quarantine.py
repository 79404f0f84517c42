"""What an administrator does with content the malware scan quarantined or holds: release it, or
delete it for good (docs/resilience.md, "Malware scanning").

* **Release** is for false positives: a signature that matched a harmless file (a security
  training document quoting the EICAR string, a vendor's tool), or a file whose scan could not be
  done and that someone has checked. The content becomes ``passed``, with the administrator and
  the reason kept on the scan row and in the audit log, and is served again.
* **Delete** removes every version holding the content, in every file, for good: a file with no
  other version is purged (as an administrator's purge of the trash is); a file whose current
  version it was gets its newest other version back as a new version (history is not rewritten:
  numbers never repeat). The bytes go with storage GC, like a purge's. The scan row of infected
  content stays, so the same bytes brought in again are quarantined at once.

Both act on the content (its SHA-256), like the verdict: every file holding the same bytes is
released or cleaned together. Administrators only (``access.gate``, refusals audited); a legal
hold on any of the files refuses a delete (``legal_hold``, audited), nothing being removed.

Not in ``drive.scanning``: a delete goes through ``drive.trash`` and ``drive.service``, which
import ``scanning``, so it would be an import cycle there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events as drive_events
from polaris.drive import holds, repo, retention_repo, scanning, trash
from polaris.drive._locate import Located, locate
from polaris.drive.models import ContentScan, FileVersion
from polaris.drive.service import add_version, audit_node
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore

log = logging.getLogger("polaris.drive.scanning")

#: The states an administrator may release or delete: quarantined, or held after failed scans.
ACTIONABLE = frozenset({scanning.INFECTED, scanning.ERROR})
MAX_REASON_CHARS = 500  # the audit record's reason column


@dataclass(frozen=True)
class Deleted:
    """What a delete removed: versions, whole files purged, files given an earlier version back,
    and the bytes released from the spaces' quotas."""

    versions: int
    files_purged: int
    files_restored: int
    released_bytes: int


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise ValidationFailed("give the reason for releasing the file", code="reason_required")
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationFailed(
            f"the reason is longer than {MAX_REASON_CHARS} characters", code="reason_too_long"
        )
    return reason


def _actionable(session: Session, sha256: str) -> ContentScan:
    """The scan of content that is quarantined or held and still held by some version."""
    scan = session.get(ContentScan, sha256, with_for_update=True)
    if scan is None or not _versions_holding(session, sha256):
        raise NotFound("no file holds this content", code="content_not_found")
    if scan.state not in ACTIONABLE:
        raise Conflict("this content is neither quarantined nor held", code="not_quarantined")
    return scan


def _versions_holding(session: Session, sha256: str) -> list[FileVersion]:
    return list(
        session.scalars(
            select(FileVersion)
            .where(FileVersion.sha256 == sha256)
            .order_by(FileVersion.node_id, FileVersion.number)
        )
    )


def release_content(
    *, session: Session, actor: Actor, context: AuditContext, sha256: str, reason: str
) -> ContentScan:
    """Serve quarantined or held content again: a false positive, checked by an administrator.

    NotFound ``content_not_found`` when no file holds it, Conflict ``not_quarantined`` when it
    is not quarantined or held, ValidationFailed ``reason_required`` without a reason.
    """
    gate.require_admin(session=session, actor=actor, operation="content.release", context=context)
    reason = _reason(reason)
    scan = _actionable(session, sha256)
    was = scan.state
    now = utcnow()
    scan.state, scan.detail = scanning.PASSED, reason
    scan.released_by, scan.released_at = actor.user_id, now
    audit.append(
        session=session,
        context=context,
        action="content.release",
        object_type="file_version",
        object_id=scan.version_id,
        version_hash=sha256,
        reason=reason,
        detail={"was": was, "signature": scan.signature},
    )
    log.warning(
        "content %s (%s %s) released by %s: %s", sha256, was, scan.signature, actor.username, reason
    )
    # What may be shown of it changed: the search index takes its text now.
    drive_events.content_scanned(session, scanning.places_of(session, sha256))
    session.flush()
    return scan


def delete_content(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    sha256: str,
) -> Deleted:
    """Remove every version holding quarantined or held content, in every file (see the module).

    NotFound ``content_not_found``, Conflict ``not_quarantined`` as for a release; Conflict
    ``legal_hold`` (audited) when a hold keeps any of the files: then nothing is removed.
    """
    gate.require_admin(session=session, actor=actor, operation="content.delete", context=context)
    scan = _actionable(session, sha256)
    by_node: dict[int, Located] = {}
    for version in _versions_holding(session, sha256):
        if version.node_id not in by_node:
            located = locate(session, version.node_id)
            if located is None:
                continue
            held = holds.holds_over(session, located.node)
            if held:
                holds.refuse_held(session, context, located, held[0], "content.delete")
            by_node[version.node_id] = located
    versions = purged = restored = released = 0
    for located in by_node.values():
        all_versions = repo.versions_of(session, located.node.id)
        bad = [v for v in all_versions if v.sha256 == sha256]
        kept = [v for v in all_versions if v.sha256 != sha256]
        versions += len(bad)
        if not kept:
            released += trash.purge_located(
                session=session, actor=actor, context=context, located=located
            )
            purged += 1
            continue
        freed, gave_back = _drop_versions(session, actor, context, blobs, located, bad, kept[-1])
        released += freed
        restored += gave_back
    audit.append(
        session=session,
        context=context,
        action="content.delete",
        object_type="file_version",
        object_id=scan.version_id,
        version_hash=sha256,
        detail={
            "was": scan.state,
            "signature": scan.signature,
            "versions": versions,
            "files_purged": purged,
            "bytes": released,
        },
    )
    if scan.state != scanning.INFECTED:
        # Held, never judged: the same bytes brought in again are scanned afresh.
        session.delete(scan)
    session.flush()
    log.warning(
        "content %s deleted by %s: %s versions, %s files purged", sha256, actor.username,
        versions, purged,
    )  # fmt: skip
    return Deleted(versions, purged, restored, released)


def _drop_versions(
    session: Session,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    located: Located,
    bad: list[FileVersion],
    newest_kept: FileVersion,
) -> tuple[int, bool]:
    """Remove ``bad`` (the file keeps other versions); when the current version was among them,
    the newest kept one comes back first, as a new version (so that its number follows the
    removed ones'). The bytes released, net; whether a version came back."""
    node = located.node
    was_current = node.current_version_id in {v.id for v in bad}
    sha256 = bad[0].sha256
    detail: dict[str, object] = {"versions": [v.number for v in bad]}
    released = 0
    if was_current:
        if not repo.reserve_bytes(session, located.space.id, newest_kept.size):
            # Over the quota: counted all the same, since removing malware must not wait for room.
            repo.release_bytes(session, located.space.id, -newest_kept.size)
        back = add_version(
            session,
            actor=actor,
            blobs=blobs,
            located=located,
            content=ContentRef.from_dict(newest_kept.content),
            content_type=newest_kept.content_type,
            restored_from=newest_kept.id,
        )
        released -= newest_kept.size
        detail.update(from_version=newest_kept.number, version=back.number)
    for version in bad:
        size, version_id = version.size, version.id
        session.expunge(version)
        retention_repo.delete_version(session, version_id)
        repo.release_bytes(session, located.space.id, size)
        released += size
        drive_events.version_deleted(session, version_id, located, actor=actor)
    detail["bytes"] = released
    audit_node(session, context, "file.delete_version", located, version_hash=sha256, detail=detail)
    return released, was_current
