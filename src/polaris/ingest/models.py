"""Renditions: what Polaris derives from a file version (thumbnails, page previews; OCR later).

A rendition never replaces its original. It is stored encrypted in the blob store like any
content, and is as visible as the version it was made from.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class Rendition(Base):
    __tablename__ = "rendition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("file_version.id", ondelete="CASCADE"))
    #: ``thumbnail`` (page 1, small) or ``page`` (one page of the in-page preview).
    kind: Mapped[str] = mapped_column(String(32))
    page: Mapped[int] = mapped_column(Integer, default=1)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: The content reference (chunk ids and sizes) in the blob store.
    content: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("uq_rendition_version_kind_page", "version_id", "kind", "page", unique=True),
    )
