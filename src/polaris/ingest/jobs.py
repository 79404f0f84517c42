"""The ingest jobs. Importing this module registers their handlers."""

from __future__ import annotations

from typing import Any

from polaris import jobs
from polaris.drive import service as drive
from polaris.errors import NotFound
from polaris.ingest import office, render, service
from polaris.storage.refs import ContentRef


@jobs.handler(service.PREVIEW_JOB)
def draw_previews(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Draw and store the thumbnail and page previews of one version (idempotent)."""
    version_id = int(payload["version_id"])
    with context.session() as session:
        if service.has_previews(session, version_id):
            return {"skipped": "already drawn"}
        try:
            version = drive.get_version(session, version_id)
        except NotFound as gone:  # purged since: nothing to draw, ever
            raise jobs.PermanentError("the version no longer exists") from gone
        content = ContentRef.from_dict(version.content)
        content_type = version.content_type or ""
    blobs = context.instance.blobs
    data = blobs.read_bytes(content)
    try:
        if content_type in render.OFFICE_TYPES:
            # Converted in LibreOffice's sandbox, then drawn as any PDF is.
            data, content_type = office.to_pdf(data, content_type), "application/pdf"
        pages, thumbnail, total = render.draw_pages(data, content_type)
    except render.CannotRender as error:
        raise jobs.PermanentError(str(error)) from error
    stored_thumbnail = (thumbnail, blobs.put_bytes(thumbnail.data))
    stored_pages = [(page, blobs.put_bytes(page.data)) for page in pages]
    with context.session() as session:
        service.record_previews(
            session, version_id=version_id, thumbnail=stored_thumbnail, pages=stored_pages
        )
    return {"pages": total, "drawn": len(pages)}
