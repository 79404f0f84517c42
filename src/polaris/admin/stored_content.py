"""Everything the database needs from the blob store, as one reference source.

``polaris storage verify`` / ``gc`` and the status page's storage check hand this to the store
(which knows no domain). Each domain that keeps content in the store lists its own references
(``drive.stored``: versions and uploads; ``ingest.stored``: previews, page images, OCR'd PDFs); a
new one is added here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from sqlalchemy.orm import Session, sessionmaker

from polaris.drive import stored as drive_stored
from polaris.ingest import stored as ingest_stored
from polaris.storage.references import Reference

_DOMAINS = (drive_stored, ingest_stored)


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
