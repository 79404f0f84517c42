"""Malware scanning of file content: its state, the job that asks clamd, and the access gate.

Flow (docs/resilience.md, "Malware scanning"): a new version commits with its ``version.added`` or
``version.restored`` event; the consumer ``drive.malware_scan`` (``drive.consumers``) calls
:func:`request_scan`, which records the content ``pending`` and queues :data:`SCAN_JOB` in the
consumer's transaction; the job (``drive.scan_jobs``) streams the content to clamd and records the
verdict with :func:`record_verdict`. Until then the content is served to its uploader only;
infected content to no one. Both rules are ``access.policy`` rule 8: :func:`content_resource`
puts the state on the resource the drive authorises a download, a preview or a share with.

State is kept per content (SHA-256), not per version: a copy, a restored version or identical
bytes uploaded again share one verdict, and nothing is scanned twice. The verdict is a function of
the bytes and of the signatures; the bytes are the same, so repeating the scan would only repeat
the answer (a rescan after a signature update is a separate, later feature).

An administrator releases quarantined or held content (a false positive) or deletes it for good:
``drive.quarantine``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from polaris import jobs
from polaris.access import service as access
from polaris.access.policy import Action, Actor, Resource
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.config import settings_of
from polaris.drive import events as drive_events
from polaris.drive._locate import Located
from polaris.drive.models import ContentScan, FileVersion, Node
from polaris.identity.models import User

log = logging.getLogger("polaris.drive.scanning")

SCAN_JOB = "drive.malware_scan"
PENDING, CLEAN, INFECTED, ERROR, PASSED = "pending", "clean", "infected", "error", "passed"
#: Served to everyone the drive's rules allow; the other states hold or quarantine.
SERVABLE = frozenset({CLEAN, PASSED})


def hold_new_content(session: Session, *, version: FileVersion) -> None:
    """In the transaction that records a version, while scanning is on: content never seen
    before is ``pending`` from its first instant, so no one but its uploader is served it before
    its scan (the consumer that queues the scan runs only after the commit)."""
    settings = settings_of(session.info)
    if settings is None or not settings.scan.active:
        return
    if session.get(ContentScan, version.sha256) is not None:
        return
    try:
        with session.begin_nested():  # the same bytes may be coming in another transaction
            session.add(_pending(version))
    except IntegrityError:
        if session.get(ContentScan, version.sha256) is None:
            raise


def _pending(version: FileVersion) -> ContentScan:
    return ContentScan(
        sha256=version.sha256,
        state=PENDING,
        uploader_id=version.created_by,
        version_id=version.id,
        created_at=utcnow(),
    )


def request_scan(session: Session, *, version: FileVersion, max_attempts: int = 12) -> ContentScan:
    """Queue the scan of a version's content while it waits for one (the change-stream
    consumer's part). Content with a verdict keeps it: nothing is queued for a copy of it."""
    scan = session.get(ContentScan, version.sha256)
    if scan is None:  # recorded while scanning was off, or on a node without the setting
        scan = _pending(version)
        session.add(scan)
        session.flush()
    if scan.state == PENDING:
        jobs.enqueue(
            session,
            kind=SCAN_JOB,
            payload={"sha256": version.sha256, "version_id": version.id},
            key=f"{SCAN_JOB}:{version.sha256}",
            subject=("file_version", version.id),
            max_attempts=max_attempts,
        )
    return scan


def scan_of(session: Session, sha256: str) -> ContentScan | None:
    """The scan of this content; None when it was never scanned (scanning off when it came)."""
    return session.get(ContentScan, sha256)


def record_verdict(
    session: Session,
    *,
    sha256: str,
    state: str,
    signature: str | None = None,
    detail: str | None = None,
) -> ContentScan | None:
    """Record the outcome of a scan, audited (as the system) in the same transaction."""
    scan = session.get(ContentScan, sha256, with_for_update=True)
    if scan is None:
        return None
    scan.state, scan.signature = state, signature
    scan.detail = detail[:1000] if detail else None
    scan.scanned_at = utcnow()
    audit.append(
        session=session,
        context=AuditContext.system("malware-scan"),
        action=f"content.scan_{state}",
        object_type="file_version",
        object_id=scan.version_id,
        version_hash=sha256,
        decision="allow",
        reason=signature or detail,
    )
    if state == INFECTED:
        log.warning(
            "malware found in content %s (first version %s, uploaded by user %s): %s",
            sha256,
            scan.version_id,
            scan.uploader_id,
            signature,
        )
    elif state in (ERROR, PASSED) and detail:
        log.warning("content %s %s without a full scan: %s", sha256, state, detail)
    # What may be shown of this content changed (search leaves out held content's text).
    drive_events.content_scanned(session, places_of(session, sha256))
    session.flush()
    return scan


def places_of(session: Session, sha256: str) -> list[tuple[int, int, int]]:
    """(version id, node id, space id) of every version holding this content."""
    query = (
        select(FileVersion.id, Node.id, Node.space_id)
        .join(Node, Node.id == FileVersion.node_id)
        .where(FileVersion.sha256 == sha256)
        .order_by(FileVersion.id)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def held_versions(session: Session, version_ids: Sequence[int]) -> set[int]:
    """Which of these versions hold content that is not cleared for everyone (pending, failed or
    infected): the search index leaves their text out, so a snippet never shows it."""
    if not version_ids:
        return set()
    query = (
        select(FileVersion.id)
        .join(ContentScan, ContentScan.sha256 == FileVersion.sha256)
        .where(FileVersion.id.in_(list(version_ids)), ContentScan.state.not_in([CLEAN, PASSED]))
    )
    return set(session.scalars(query))


def content_resource(located: Located, scan: ContentScan | None) -> Resource:
    """The resource that a read or a share of a file's content is authorised with."""
    resource = located.resource()
    if scan is None:
        return resource
    return dataclasses.replace(resource, scan_state=scan.state, uploader_id=scan.uploader_id)


def require_scanned(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    located: Located,
    version: FileVersion,
    action: Action = Action.READ,
) -> ContentScan | None:
    """Refuse (audited, ``file_quarantined`` or ``scan_pending``) content the scan holds from
    this actor; the scan (None when there is none) otherwise."""
    scan = scan_of(session, version.sha256)
    if scan is not None:
        access.require(
            session=session,
            actor=actor,
            action=action,
            resource=content_resource(located, scan),
            context=context,
        )
    return scan


def require_scan_cleared(
    *, session: Session, actor: Actor, context: AuditContext, located: Located, version: FileVersion
) -> None:
    """Rule 8 alone, for content another decision already let the actor read (an attachment
    read through its room): held content refused as :func:`require_scanned` refuses it."""
    scan = scan_of(session, version.sha256)
    if scan is not None:
        access.require_scan_cleared(
            session=session,
            actor=actor,
            action=Action.READ,
            resource=content_resource(located, scan),
            context=context,
        )


@dataclass(frozen=True)
class HeldContent:
    """A file whose content is quarantined or held, for the administrators' status page."""

    scan: ContentScan
    node_id: int
    name: str
    version_number: int
    uploader: str | None = None  # the uploader's username


def held_content(session: Session, *, limit: int = 100) -> list[HeldContent]:
    """Quarantined and held content (infected first), with the files that hold it."""
    rows: Sequence[tuple[ContentScan, FileVersion, Node, str | None]] = session.execute(
        select(ContentScan, FileVersion, Node, User.username)
        .join(FileVersion, FileVersion.sha256 == ContentScan.sha256)
        .join(Node, Node.id == FileVersion.node_id)
        .outerjoin(User, User.id == ContentScan.uploader_id)
        .where(ContentScan.state.in_([INFECTED, ERROR]))
        .order_by(ContentScan.state.desc(), ContentScan.created_at.desc(), FileVersion.id)
        .limit(limit)
    ).all()
    return [
        HeldContent(scan, node.id, node.name, version.number, uploader)
        for scan, version, node, uploader in rows
    ]


@dataclass(frozen=True)
class ScanView:
    """What a file's page says of its scan: the state, and whether this actor may be shown the
    content (the same rule as a download; nothing is audited, nothing is shown when not)."""

    state: str | None
    signature: str | None
    detail: str | None
    servable: bool
    #: An administrator released it as a false positive (``passed``, the reason in ``detail``).
    released: bool = False


def scan_view(
    session: Session, *, actor: Actor, located: Located, version: FileVersion
) -> ScanView:
    scan = scan_of(session, version.sha256)
    if scan is None:
        return ScanView(None, None, None, servable=True)
    allowed = access.can(actor, Action.READ, content_resource(located, scan))
    return ScanView(
        scan.state,
        scan.signature,
        scan.detail,
        servable=allowed,
        released=scan.released_by is not None,
    )
