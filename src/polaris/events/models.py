"""The stream's tables: the events, the single head row of the sequencer, and consumer cursors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime

HEAD_ROW_ID = 1


class DomainEvent(Base):
    """One change. ``position`` is NULL until the sequencer, after the change committed, gives it
    the next server-wide position; readers only ever see sequenced events."""

    __tablename__ = "domain_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    #: ``<subject>.<what happened>``, e.g. ``node.renamed``; defined by the domain that appends it.
    kind: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    #: The drive space the change happened in, when it happened in one (feeds filter on it).
    space_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    #: Further ids the change involves (``{"parent_id": 4, "from_parent_id": 2}``): never content.
    data: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The sequencer's work list: small, since events are sequenced within moments.
        Index(
            "ix_domain_event_unsequenced",
            "id",
            postgresql_where=text("position IS NULL"),
            sqlite_where=text("position IS NULL"),
        ),
        Index("ix_domain_event_subject", "subject_type", "subject_id"),
    )


class EventHead(Base):
    """The single row (id 1) holding the last position given out; only the sequencer locks it."""

    __tablename__ = "event_head"
    __table_args__ = (CheckConstraint(f"id = {HEAD_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger)


class EventCursor(Base):
    """How far one consumer has read; locked while a batch runs, so one node runs it at a time."""

    __tablename__ = "event_cursor"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last failure of the consumer's handler (it retries the same batch), for operators.
    error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
