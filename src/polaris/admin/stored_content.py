"""Everything the database needs from the blob store, as one reference source.

``polaris storage verify`` / ``gc`` and the status page's storage check hand this to the store
(which knows no domain). Each domain that keeps content in the store lists its own references
(``drive.stored``: versions and uploads; ``dav.stored``: Nextcloud chunked uploads;
``ingest.stored``: previews, page images, OCR'd PDFs); a
new one is added here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.dav import stored as dav_stored
from polaris.drive import stored as drive_stored
from polaris.ingest import stored as ingest_stored
from polaris.storage.gc import GcReport
from polaris.storage.references import Reference

_DOMAINS = (dav_stored, drive_stored, ingest_stored)


class DatabaseReferences:
    """The references of every domain, read in one read-only snapshot (``read_sessions``), so
    content moving between two holders (an upload becoming a version) is seen exactly once."""

    def __init__(self, read_sessions: sessionmaker[Session]) -> None:
        self._sessions = read_sessions

    def count(self) -> int:
        with self._sessions() as session:
            return sum(domain.count(session=session) for domain in _DOMAINS)

    def references(self) -> Iterator[Reference]:
        with self._sessions() as session:
            for domain in _DOMAINS:
                yield from domain.references(session=session)

    def describe(self, keys: Collection[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        with self._sessions() as session:
            for domain in _DOMAINS:
                found.update(domain.describe(session=session, keys=keys))
        return found


def record_gc_start(*, session: Session, context: AuditContext, grace_days: float) -> None:
    """Recorded and committed before anything is removed (``storage.gc_start``): if the audit
    log cannot take it, garbage collection does not run, and a crash mid-way still leaves a
    record that it began."""
    audit.append(
        session=session,
        context=context,
        action="storage.gc_start",
        object_type="blob_store",
        object_id=0,
        detail={"grace_days": grace_days},
    )


def record_gc(*, session: Session, context: AuditContext, report: GcReport) -> None:
    """A garbage collection that could remove blobs is a change: it goes into the audit log
    (``storage.gc``) with what it removed, kept and, if it refused, why."""
    audit.append(
        session=session,
        context=context,
        action="storage.gc",
        object_type="blob_store",
        object_id=0,
        reason="refused" if report.refused else None,
        detail={
            "removed": report.removed,
            "removed_bytes": report.removed_bytes,
            "kept_young": report.kept_young,
            "kept_reused": report.kept_reused,
            "cutoff": report.cutoff.isoformat(timespec="seconds"),
            "refused": report.refused,
        },
    )
