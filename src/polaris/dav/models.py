"""Tables of the WebDAV interface: class 2 locks and dead properties.

Both live in the database, not in a process, so that every node behind a load balancer sees the
same locks and properties (WsgiDAV's own stores are a dictionary or a shelve file per process).
"""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polaris.db.base import Base


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
