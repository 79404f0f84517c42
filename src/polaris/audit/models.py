"""Audit tables: the records, the single head row and the signed, chained checkpoints.

A record is inserted *unsealed* (``seq``, ``prev_hash``, ``hash`` and ``hash_version`` are NULL)
with a database-generated ``id``, in the transaction of the action it records; no shared row is
touched. The sealer (``polaris.audit.sealing``) later gives it its chain position ``seq`` and its
hashes. ``id`` orders records only until they are sealed; it is not hashed.

There are deliberately no foreign keys: an audit record outlives the user, unit or object it names,
and ``verify`` (not the schema) is what detects a missing or altered row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from polaris.db.base import Base, UTCDateTime

# INTEGER PRIMARY KEY on SQLite makes id the rowid (no separate index); BIGINT elsewhere.
_ID = BigInteger().with_variant(Integer(), "sqlite")
_UNSEALED = text("seq IS NULL")

HEAD_ROW_ID = 1


class AuditRecord(Base):
    """One audited event. Once sealed, every column but ``id`` and ``hash`` is covered by
    ``hash`` (see ``encoding``)."""

    __tablename__ = "audit_record"
    __table_args__ = (
        CheckConstraint("decision IN ('allow', 'deny')", name="decision"),
        Index("ix_audit_record_seq", "seq", unique=True),
        Index("ix_audit_record_at", "at"),
        Index("ix_audit_record_actor_id_id", "actor_id", "id"),
        Index("ix_audit_record_unit_id_id", "unit_id", "id"),
        Index("ix_audit_record_action_id", "action", "id"),
        Index("ix_audit_record_object_id", "object_type", "object_id", "id"),
        Index("ix_audit_record_unsealed", "id", postgresql_where=_UNSEALED, sqlite_where=_UNSEALED),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)  # chain position, set when sealed
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
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    hash_version: Mapped[int | None] = mapped_column(SmallInteger)

    @property
    def sealed(self) -> bool:
        return self.seq is not None

    @property
    def detail_value(self) -> Any:
        """``detail`` parsed from its stored JSON text (``None`` when absent)."""
        return None if self.detail is None else json.loads(self.detail)


class AuditHead(Base):
    """The single row (id 1) holding the last sealed seq and hash; only the sealer locks it."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint(f"id = {HEAD_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement that the chain's record ``seq`` had hash ``hash`` at time ``at``.

    From version 2 on it also names the previous checkpoint (``prev_seq``, ``prev_hash``; 0 and
    the genesis hash for the first), so a deleted checkpoint leaves a visible gap. Version 1
    checkpoints (written before) have NULL there.
    """

    __tablename__ = "audit_checkpoint"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))  # Ed25519, lower-case hex
    version: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    prev_seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
