"""The notification table: one row per recipient and thing to tell them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class Notification(Base):
    """``kind`` says how to present it (``notifications.kinds``); ``subject_type``/``subject_id``
    what it is about (a node); ``source_id`` what caused it (a share), so that a revoked share can
    take back its unread notifications; ``actor_id`` who did it. No foreign key but the recipient's:
    what it names may go, and is then not shown."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_id_read_at", "user_id", "read_at"),
        Index("ix_notification_kind_source_id", "kind", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
