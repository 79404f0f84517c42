"""The text of a file version, extracted once by the ``ingest.text`` job (``ingest.text_jobs``).

A row means extraction has finished for that version: with its text (``error`` empty), or with the
reason it could not be had (``method`` ``none``, ``error`` set, e.g. a password-protected PDF).
Versions are immutable, so a row is never updated; the searchable PDF that OCR makes is a
``Rendition`` of kind ``ocr_pdf`` (``ingest.models``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class DocumentText(Base):
    __tablename__ = "document_text"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Purging a version takes its text with it (the row means nothing without the version).
    version_id: Mapped[int] = mapped_column(
        ForeignKey("file_version.id", ondelete="CASCADE"), unique=True
    )
    #: ``text`` (a text layer or markup), ``ocr`` (Tesseract's sidecar text), ``none`` (failed).
    method: Mapped[str] = mapped_column(String(16))
    #: NFC; pages separated by a form feed (U+000C).
    text: Mapped[str] = mapped_column(Text, default="")
    #: Pages of a PDF or a scan; None for formats without pages.
    pages: Mapped[int | None] = mapped_column(Integer)
    #: The OCR languages in Tesseract's order (``eng+hin``) when OCR read the text.
    language: Mapped[str | None] = mapped_column(String(64))
    #: The text was cut at the extraction limit.
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why there is no text (corrupt, encrypted, too big), when ``method`` is ``none``.
    error: Mapped[str | None] = mapped_column(Text)
    extracted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
