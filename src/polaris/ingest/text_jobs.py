"""The text job (``ingest.text``): extract a version's text, OCR its scans, keep the OCR PDF.
Importing this module registers the handler.

Steps, each safe to repeat (the job is idempotent, and a retry after a crash starts again):

1. skip a version whose text is recorded already; fail for good if the version is gone;
2. read the content and extract its text (``ingest.extract``) in a private temporary directory,
   outside any transaction: OCR takes seconds a page, and the job's lease is renewed meanwhile;
3. store the searchable PDF in the blob store (an unreferenced blob, should the next step fail);
4. record the text, the PDF's rendition and the search hook in one transaction.

A file that cannot be read (corrupt, encrypted, too many pages, too slow) is recorded with its
reason and the job fails without retrying; OCR missing on the server is retried with backoff.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from polaris import jobs
from polaris.drive import service as drive
from polaris.errors import NotFound
from polaris.ingest import text_service
from polaris.ingest.extract import CannotExtract, Limits, extract_text
from polaris.storage.refs import ContentRef


@jobs.handler(text_service.TEXT_JOB)
def extract_version_text(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Extract and record the text of one version (idempotent)."""
    version_id = int(payload["version_id"])
    with context.session() as session:
        if text_service.has_text(session, version_id):
            return {"skipped": "already extracted"}
        try:
            version = drive.get_version(session, version_id)
        except NotFound as gone:  # purged since: nothing to read, ever
            raise jobs.PermanentError("the version no longer exists") from gone
        content = ContentRef.from_dict(version.content)
        content_type = version.content_type or ""
    settings = context.instance.settings.ocr
    limits = Limits(
        ocr_pages=settings.max_pages,
        ocr_timeout_seconds=settings.timeout_seconds,
        ocr_jobs=settings.jobs,
        extract_memory_bytes=settings.extract_memory_mb * 1024 * 1024,
        extract_timeout_seconds=settings.extract_timeout_seconds,
    )
    blobs = context.instance.blobs
    data = blobs.read_bytes(content)
    try:
        with tempfile.TemporaryDirectory(prefix="polaris-text-") as workdir:
            extracted = extract_text(
                data,
                content_type,
                "",
                ocr_languages=settings.languages,
                workdir=Path(workdir),
                limits=limits,
                on_wait=lambda: context.progress(0),
            )
    except CannotExtract as error:
        with context.session() as session:
            text_service.record_failure(session, version_id=version_id, reason=str(error))
        raise jobs.PermanentError(str(error)) from error
    stored_pdf = (
        blobs.put_bytes(extracted.searchable_pdf) if extracted.searchable_pdf is not None else None
    )
    with context.session() as session:
        text_service.record_text(
            session, version_id=version_id, extracted=extracted, searchable_pdf=stored_pdf
        )
    return {
        "method": extracted.method,
        "pages": extracted.pages,
        "characters": len(extracted.text),
        "truncated": extracted.truncated,
    }
