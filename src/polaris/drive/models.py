"""Tables of the drive.

Nodes (folders and files) form a tree per space. Each node keeps ``path``, the ids from the space's
root down to itself (``/1/7/42/``): ancestry, moves of a whole subtree and ETag propagation are
then one statement each, on SQLite and PostgreSQL alike, and a listing needs no recursion.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime

FOLDER = "folder"
FILE = "file"


class Space(Base):
    """A top-level container: a unit's space, a user's personal space, later a case file."""

    __tablename__ = "space"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "unit" | "user" | "case"
    name: Mapped[str] = mapped_column(String(255))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    root_id: Mapped[int | None] = mapped_column(Integer)
    classification: Mapped[int] = mapped_column(Integer, default=0)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(
            "uq_space_unit",
            "unit_id",
            unique=True,
            sqlite_where=text("kind = 'unit'"),
            postgresql_where=text("kind = 'unit'"),
        ),
        Index(
            "uq_space_owner",
            "owner_id",
            unique=True,
            sqlite_where=text("kind = 'user'"),
            postgresql_where=text("kind = 'user'"),
        ),
    )


class Node(Base):
    """A folder or a file. Its id never changes, whatever renames and moves happen."""

    __tablename__ = "node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("space.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"))
    path: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    #: ``name.casefold()``: the order people expect in a listing, whatever the case.
    sort_name: Mapped[str] = mapped_column(String(1020))
    classification: Mapped[int] = mapped_column(Integer, default=0)
    #: What a caller cleared for Secret sees (everything below); ``etag_<level>`` is what a
    #: caller of a lower clearance sees (see ``polaris.drive.stamps``).
    etag: Mapped[str] = mapped_column(String(32))
    etag_unclassified: Mapped[str] = mapped_column(String(32))
    etag_restricted: Mapped[str] = mapped_column(String(32))
    etag_confidential: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(255))
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at_unclassified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at_restricted: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at_confidential: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set on the node the user deleted (not on what is below it, which goes with it).
    trashed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    trashed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    __table_args__ = (
        # Names are unique among the live children of a folder (NFC, exact).
        Index(
            "uq_node_live_name",
            "parent_id",
            "name",
            unique=True,
            sqlite_where=text("trashed_at IS NULL"),
            postgresql_where=text("trashed_at IS NULL"),
        ),
        Index("ix_node_parent_sort", "parent_id", "sort_name", "id"),
        # A page of a folder (``repo.children_page``): each kind in name order, live nodes only,
        # so that a page reads its rows in order and stops, whatever the folder's size.
        Index(
            "ix_node_live_children",
            "parent_id",
            "kind",
            "sort_name",
            "id",
            sqlite_where=text("trashed_at IS NULL"),
            postgresql_where=text("trashed_at IS NULL"),
        ),
        # Prefix searches (``path LIKE '/1/7/%'``) use the index on PostgreSQL whatever the locale.
        Index("ix_node_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        Index("ix_node_trash", "space_id", "trashed_at"),
    )


class FileVersion(Base):
    """One immutable version of a file's content. A write always adds one; none is changed."""

    __tablename__ = "file_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    manifest_id: Mapped[str] = mapped_column(String(64))
    #: The content reference (chunk ids and sizes), as in the manifest, to read without it.
    content: Mapped[dict[str, object]] = mapped_column(JSON)
    content_type: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when this version restores an older one.
    restored_from: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("uq_file_version_node_number", "node_id", "number", unique=True),)


class Share(Base):
    """A node shared with a user, a unit (optionally with the units below) or a group."""

    __tablename__ = "share"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    subject_type: Mapped[str] = mapped_column(String(8))  # "user" | "unit" | "group"
    subject_id: Mapped[int] = mapped_column(Integer)
    permission: Mapped[str] = mapped_column(String(8))  # "read" | "edit" | "manage"
    include_subunits: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_share_subject", "subject_type", "subject_id"),)


class Upload(Base):
    """A resumable (tus 1.0) upload in progress: the chunks stored so far and where it goes."""

    __tablename__ = "upload"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    parent_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    overwrite: Mapped[bool] = mapped_column(Boolean, default=False)
    if_match: Mapped[str | None] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[list[list[object]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    node_id: Mapped[int | None] = mapped_column(Integer)


class ContentScan(Base):
    """The malware scan of one content, by its SHA-256 (``polaris.drive.scanning``).

    Keyed by content, not by version: a copy, a restored version or the same bytes uploaded again
    share the verdict (and the scan is done once). ``uploader_id`` is who first brought these
    bytes in: the one person who may read them while the scan is pending.
    """

    __tablename__ = "content_scan"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``pending``, ``clean``, ``infected``, ``error`` (held: the scan could not be done), or
    #: ``passed`` (served without a full verdict: clamd unavailable under ``pass``, or only the
    #: first ``scan.max_bytes`` could be sent; ``detail`` says which).
    state: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(String(1000))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: The version that brought the content in (no foreign key: a purge must not need this row).
    version_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    scanned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: An administrator released it (``passed``, the reason in ``detail``): a false positive.
    released_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_content_scan_state", "state"),)


class RetentionRule(Base):
    """How long a space, a folder's subtree or a classification level keeps old versions and the
    trash (``polaris.drive.retention``). Exactly one of ``space_id``, ``node_id`` and
    ``classification`` names what the rule applies to; a missing duration says nothing."""

    __tablename__ = "retention_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space_id: Mapped[int | None] = mapped_column(ForeignKey("space.id"), index=True)
    #: A folder: the rule applies to its whole subtree (and goes when the folder is purged).
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), index=True
    )
    classification: Mapped[int | None] = mapped_column(Integer)
    #: A kind of messenger room (``direct``, ``group``, ``unit_channel``, ``broadcast``): the rule
    #: says how long its messages are kept (``keep_messages_days``; ``polaris.chat.retention``).
    room_kind: Mapped[str | None] = mapped_column(String(16), unique=True)
    keep_versions_years: Mapped[int | None] = mapped_column(Integer)
    purge_trash_days: Mapped[int | None] = mapped_column(Integer)
    keep_messages_days: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegalHold(Base):
    """A legal hold on a node and its subtree (``polaris.drive.holds``), or on a messenger room or
    on everything a user sent in the messenger (``polaris.chat.retention``): exactly one of
    ``node_id``, ``room_id`` and ``user_id``. While ``released_at`` is unset, nothing it holds is
    purged or loses a version.

    No foreign keys: the record of a hold outlives what it once held.
    """

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int | None] = mapped_column(Integer, index=True)
    room_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    held_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    held_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    release_reason: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (
        Index(
            "uq_legal_hold_active",
            "node_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "uq_legal_hold_active_room",
            "room_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(
            "uq_legal_hold_active_user",
            "user_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )
