"""Renditions of file versions: asking for them, their status, and reading them.

Ingest follows the drive's change stream (``ingest.consumers``): for each version recorded it asks
for the previews (:func:`request_previews`, in the consumer's transaction, so the job cannot be
lost); the job in ``ingest.jobs`` draws them. Whoever may read a
version may read its renditions: callers authorise through ``drive.content.find_content`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from polaris import jobs
from polaris.errors import NotFound
from polaris.ingest import repo, text_service
from polaris.ingest.models import Rendition
from polaris.ingest.render import PageImage, previewable
from polaris.storage.refs import ContentRef

PREVIEW_JOB = "ingest.previews"
THUMBNAIL = "thumbnail"
PAGE = "page"


def request_previews(
    session: Session, *, version_id: int, content_type: str | None, size: int
) -> None:
    """Queue drawing the previews of a new version, when its type has any."""
    if previewable(content_type, size):
        jobs.enqueue(
            session,
            kind=PREVIEW_JOB,
            payload={"version_id": version_id},
            key=f"{PREVIEW_JOB}:{version_id}",
            subject=("file_version", version_id),
        )


@dataclass(frozen=True)
class PreviewStatus:
    state: Literal["none", "pending", "ready", "failed"]
    pages: list[Rendition]
    error: str | None = None


def preview_status(
    session: Session, *, version_id: int, content_type: str | None, size: int
) -> PreviewStatus:
    if not previewable(content_type, size):
        return PreviewStatus("none", [])
    pages = list(repo.renditions_of(session, version_id, PAGE))
    if pages:
        return PreviewStatus("ready", pages)
    found = jobs.jobs_for_subject(session, "file_version", version_id)
    failed = [
        job for job in found if job.kind == PREVIEW_JOB and job.status == jobs.JobStatus.FAILED
    ]
    if failed:
        return PreviewStatus("failed", [], failed[-1].error)
    return PreviewStatus("pending", [])


def get_rendition(session: Session, *, version_id: int, kind: str, page: int) -> Rendition:
    found = repo.rendition(session, version_id, kind, page)
    if found is None:
        raise NotFound("no such preview", code="rendition_not_found")
    return found


def with_thumbnails(session: Session, version_ids: list[int]) -> set[int]:
    """Which of these versions have a thumbnail (one query for a whole listing)."""
    return repo.versions_with(session, version_ids, THUMBNAIL)


def has_previews(session: Session, version_id: int) -> bool:
    return repo.rendition(session, version_id, THUMBNAIL, 1) is not None


def forget_versions(session: Session, version_ids: list[int]) -> None:
    """Drop what was derived from purged versions (their blobs go with storage GC).

    The database removes these rows with the versions (``ON DELETE CASCADE``), so after a purge
    this finds nothing in the ordinary case; it makes sure, and costs two indexed deletes."""
    text_service.forget_texts(session, version_ids)
    repo.delete_for_versions(session, version_ids)


def record_previews(
    session: Session,
    *,
    version_id: int,
    thumbnail: tuple[PageImage, ContentRef],
    pages: list[tuple[PageImage, ContentRef]],
) -> None:
    """Record drawn and stored images; a second run for the same version records nothing."""
    if has_previews(session, version_id):
        return
    for kind, (image, content) in [(THUMBNAIL, thumbnail)] + [(PAGE, item) for item in pages]:
        session.add(
            Rendition(
                version_id=version_id,
                kind=kind,
                page=image.page,
                media_type=image.media_type,
                size=len(image.data),
                width=image.width,
                height=image.height,
                content=content.to_dict(),
            )
        )
    session.flush()
