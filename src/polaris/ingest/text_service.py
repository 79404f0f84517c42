"""The text of file versions: asking for it, its status, reading it.

Ingest's consumer of the change stream (``ingest.consumers``) asks for the text of each version the
drive records (:func:`request_text`, in the consumer's transaction, so the job cannot be lost); the
job in ``ingest.text_jobs`` extracts it and records it here, with a ``version.text_stored`` event
that the search index follows. Whoever
may read a version may read its text and its OCR PDF: callers authorise through drive first
(``drive.content.find_content``), as for previews. Nothing here writes audit records: the text job
acts for no one, and reading the text is audited by the page that shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from polaris import events, jobs
from polaris.drive import service as drive
from polaris.errors import NotFound
from polaris.ingest import repo
from polaris.ingest.extract import Extracted, extractable
from polaris.ingest.models import Rendition
from polaris.ingest.text_models import DocumentText
from polaris.storage.refs import ContentRef

TEXT_JOB = "ingest.text"
#: The searchable PDF/A made by OCR, a rendition kept beside the original (page 0: the whole file).
OCR_PDF = "ocr_pdf"

#: The event appended when a version's text is recorded (subject: the version; data: its node).
TEXT_STORED = "version.text_stored"

TextState = Literal["none", "pending", "ready", "failed"]


def request_text(session: Session, *, version_id: int, content_type: str | None, size: int) -> None:
    """Queue extracting the text of a new version, when its type has any."""
    if extractable(content_type, size):
        jobs.enqueue(
            session,
            kind=TEXT_JOB,
            payload={"version_id": version_id},
            key=f"{TEXT_JOB}:{version_id}",
            subject=("file_version", version_id),
        )


class TextStatus(NamedTuple):
    """``none``: no text to extract (nothing asked); ``pending``: queued or running; ``ready``:
    ``text`` holds it; ``failed``: ``error`` says why (``text`` holds the failure when recorded)."""

    state: TextState
    text: DocumentText | None
    error: str | None


def text_status(
    session: Session, version_id: int, *, content_type: str | None, size: int
) -> TextStatus:
    """``pending`` also before the job is queued: a new version's job is asked for by a consumer
    of the change stream, moments after the version is committed."""
    found = _text_of(session, version_id)
    if found is not None:
        if found.error is not None:
            return TextStatus("failed", found, found.error)
        return TextStatus("ready", found, None)
    if not extractable(content_type, size):
        return TextStatus("none", None, None)
    text_jobs = [
        job
        for job in jobs.jobs_for_subject(session, "file_version", version_id)
        if job.kind == TEXT_JOB
    ]
    if text_jobs and text_jobs[-1].status == jobs.JobStatus.FAILED:
        return TextStatus("failed", None, text_jobs[-1].error)
    return TextStatus("pending", None, None)


def get_text(session: Session, *, version_id: int) -> DocumentText:
    """The extracted text of a version (or the reason it has none); NotFound until extracted."""
    found = _text_of(session, version_id)
    if found is None:
        raise NotFound("no text has been extracted from this version", code="text_not_found")
    return found


def has_text(session: Session, version_id: int) -> bool:
    return _text_of(session, version_id) is not None


def texts_of(session: Session, version_ids: Sequence[int]) -> dict[int, str]:
    """The extracted text of each of these versions that has some (for the search index)."""
    found: dict[int, str] = {}
    ids = list(version_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(DocumentText.version_id, DocumentText.text).where(
                DocumentText.version_id.in_(ids[start : start + 500]),
                DocumentText.error.is_(None),
            )
        ).all()
        found.update({int(version_id): str(text) for version_id, text in rows if text})
    return found


def get_ocr_pdf(session: Session, *, version_id: int) -> Rendition:
    """The searchable PDF that OCR made of a version."""
    found = repo.rendition(session, version_id, OCR_PDF, 0)
    if found is None:
        raise NotFound("this version has no OCR PDF", code="rendition_not_found")
    return found


def record_text(
    session: Session,
    *,
    version_id: int,
    extracted: Extracted,
    searchable_pdf: ContentRef | None = None,
) -> DocumentText:
    """Record the text (and the stored OCR PDF) of a version; a second call records nothing."""
    existing = _text_of(session, version_id)
    if existing is not None:
        return existing
    row = DocumentText(
        version_id=version_id,
        method=extracted.method,
        text=extracted.text,
        pages=extracted.pages,
        language=extracted.language,
        truncated=extracted.truncated,
        error=None,
    )
    session.add(row)
    if searchable_pdf is not None and repo.rendition(session, version_id, OCR_PDF, 0) is None:
        session.add(
            Rendition(
                version_id=version_id,
                kind=OCR_PDF,
                page=0,
                media_type="application/pdf",
                size=searchable_pdf.size,
                width=0,
                height=0,
                content=searchable_pdf.to_dict(),
            )
        )
    session.flush()
    on_text_stored(session, version_id)
    return row


def record_failure(session: Session, *, version_id: int, reason: str) -> DocumentText:
    """Record that a version's text cannot be had, and why; a second call records nothing."""
    existing = _text_of(session, version_id)
    if existing is not None:
        return existing
    row = DocumentText(version_id=version_id, method="none", text="", error=reason[:2000])
    session.add(row)
    session.flush()
    return row


def on_text_stored(session: Session, version_id: int) -> None:
    """Called in the transaction that records a version's text: its event (``TEXT_STORED``) is
    how the search index learns of it. Nothing is appended for a version purged meanwhile."""
    place = drive.version_place(session, version_id)
    if place is None:
        return
    node_id, space_id = place
    events.append(
        session,
        kind=TEXT_STORED,
        subject=("version", version_id),
        space_id=space_id,
        data={"node_id": node_id},
    )


def forget_texts(session: Session, version_ids: Sequence[int]) -> None:
    """Drop the text of versions being purged (their OCR PDFs go with the other renditions).
    Deleting the versions does it too (``ON DELETE CASCADE``); this is for a purge that wants the
    text gone first."""
    ids = list(version_ids)
    for start in range(0, len(ids), 500):
        session.execute(
            delete(DocumentText).where(DocumentText.version_id.in_(ids[start : start + 500]))
        )


def _text_of(session: Session, version_id: int) -> DocumentText | None:
    return session.scalars(
        select(DocumentText).where(DocumentText.version_id == version_id)
    ).first()
