"""Audit tables: the hash-chained records, the single head row and the signed checkpoints.

There are deliberately no foreign keys: an audit record outlives the user, unit or object it names,
and ``verify`` (not the schema) is what detects a missing or altered row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polaris.db.base import Base, UTCDateTime

# INTEGER PRIMARY KEY on SQLite makes seq the rowid (no separate index); BIGINT elsewhere.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

HEAD_ROW_ID = 1


class AuditRecord(Base):
    """One audited event. Every column but ``hash`` is covered by ``hash`` (see ``encoding``)."""

    __tablename__ = "audit_record"
    __table_args__ = (
        CheckConstraint("decision IN ('allow', 'deny')", name="decision"),
        Index("ix_audit_record_at", "at"),
        Index("ix_audit_record_actor_id_seq", "actor_id", "seq"),
        Index("ix_audit_record_unit_id_seq", "unit_id", "seq"),
        Index("ix_audit_record_action_seq", "action", "seq"),
        Index("ix_audit_record_object_seq", "object_type", "object_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str | None] = mapped_column(String(255))
    actor_role: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(String(64))
    auth_factors: Mapped[str | None] = mapped_column(String(64))
    session_hash: Mapped[str | None] = mapped_column(String(64))
    source_address: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(512))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    version_hash: Mapped[str | None] = mapped_column(String(128))
    classification: Mapped[str | None] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)  # canonical JSON text, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    hash_version: Mapped[int] = mapped_column(SmallInteger)

    @property
    def detail_value(self) -> Any:
        """``detail`` parsed from its stored JSON text (``None`` when absent)."""
        return None if self.detail is None else json.loads(self.detail)


class AuditHead(Base):
    """The single row (id 1) holding the last seq and hash; appends lock it to serialise."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint(f"id = {HEAD_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement that the chain's record ``seq`` had hash ``hash`` at time ``at``."""

    __tablename__ = "audit_checkpoint"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))  # Ed25519, lower-case hex
