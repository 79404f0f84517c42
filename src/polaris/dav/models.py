"""Tables of the WebDAV interface: class 2 locks, dead properties, Nextcloud chunked
uploads.

Both live in the database, not in a process, so that every node behind a load balancer sees the
same locks and properties (WsgiDAV's own stores are a dictionary or a shelve file per process).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class DavLock(Base):
    """A WebDAV lock: its token, the canonical path it roots at (``dav.locks``), and WsgiDAV's
    lock dictionary. ``expires`` is seconds since the epoch (WsgiDAV's own unit)."""

    __tablename__ = "dav_lock"

    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    root: Mapped[str] = mapped_column(String(4096), index=True)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    expires: Mapped[float] = mapped_column(Float, index=True)


class DavProperty(Base):
    """A dead property (PROPPATCH) of a node: kept with the node's id, so it follows renames and
    moves, and goes with the node when it is purged."""

    __tablename__ = "dav_property"

    node_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("node.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(1024), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ChunkedUpload(Base):
    """A Nextcloud chunked upload (v2) in progress: the folder a client made under
    ``/remote.php/dav/uploads/{user}/`` (``dav.chunking``). ``destination`` and ``total_length``
    are known from the start in the >= 3.10 style (``Destination``, ``OC-Total-Length`` on the
    MKCOL), and only at the final MOVE in the 3.7 style."""

    __tablename__ = "dav_upload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    destination: Mapped[str | None] = mapped_column(String(4096))
    total_length: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (UniqueConstraint("user_id", "name"),)


class ChunkedUploadPart(Base):
    """One chunk of a :class:`ChunkedUpload`, stored (encrypted) in the blob store as it came:
    ``content`` is its ``ContentRef`` (``to_dict``). ``number`` orders the chunks: the name the
    client gave (a byte offset in the 3.7 style, 1 to 10000 since 3.10)."""

    __tablename__ = "dav_upload_part"

    upload_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dav_upload.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[dict[str, object]] = mapped_column(JSON)


class DavChecksum(Base):
    """The SHA-1 and MD5 of a file version's content, computed as it came in over WebDAV: what
    the Nextcloud clients and rclone compare (``oc:checksums``); the drive itself keeps SHA-256.
    A version written another way (the web pages, the API) has none, and the property is then
    absent: a client compares sizes and times instead."""

    __tablename__ = "dav_checksum"

    version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("file_version.id", ondelete="CASCADE"), primary_key=True
    )
    sha1: Mapped[str] = mapped_column(String(40))
    md5: Mapped[str] = mapped_column(String(32))
