"""What ingest keeps in the blob store: previews, page images and OCR'd PDFs (renditions).

Renditions are stored as chunks without a manifest (they are derived, and rebuilt from their
version if lost), so without this list a store check would count them as unreferenced chunks.
Keys are ``rendition:<id>``; :func:`describe` names the rendition and the version it was made from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from sqlalchemy.orm import Session

from polaris.drive import stored as drive_stored
from polaris.ingest import repo
from polaris.storage.references import Reference
from polaris.storage.refs import ContentRef

RENDITION = "rendition:"


def count(*, session: Session) -> int:
    return repo.count_renditions(session)


def references(*, session: Session) -> Iterator[Reference]:
    for rendition_id, content in repo.stream_rendition_content(session):
        chunks = ContentRef.from_dict(content).chunks
        yield Reference(f"{RENDITION}{rendition_id}", chunks)


def describe(*, session: Session, keys: Collection[str]) -> dict[str, str]:
    """``page 3 preview of space "…" (7): /a.pdf, version 1 (node 41)`` per rendition key."""
    ids = [int(k.removeprefix(RENDITION)) for k in keys if k.startswith(RENDITION)]
    renditions = repo.renditions_by_id(session, ids)
    versions = drive_stored.describe(
        session=session, keys={f"{drive_stored.VERSION}{r.version_id}" for r in renditions}
    )
    found: dict[str, str] = {}
    for rendition in renditions:
        of = versions.get(f"{drive_stored.VERSION}{rendition.version_id}", "a removed version")
        what = rendition.kind if rendition.kind != "page" else f"page {rendition.page} image"
        found[f"{RENDITION}{rendition.id}"] = f"{what} of {of}"
    return found
