"""Tables of the Matrix API: devices, filters, account data, pushers, media and login tokens.

A Matrix access token is a Polaris session token (``identity.auth``): the device row ties a
Matrix ``device_id`` to the session row that token stands for, so that idle and absolute
timeouts, an administrator ending a session and the audit's session hash all apply unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class MatrixDevice(Base):
    """A client's device: one per login. ``session_id`` is the session row's id (the SHA-256 of
    the access token; no foreign key, sessions are identity's); logging out deletes the device
    and ends the session."""

    __tablename__ = "matrix_device"
    __table_args__ = (UniqueConstraint("user_id", "device_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    device_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatrixFilter(Base):
    """A filter a client uploaded; its id is this row's id (only its owner can read it)."""

    __tablename__ = "matrix_filter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatrixAccountData(Base):
    """Per-user settings a client keeps on the server (``room_id`` empty for global data; the
    chat domain fills it for room account data)."""

    __tablename__ = "matrix_account_data"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), primary_key=True, default="")
    type: Mapped[str] = mapped_column(String(255), primary_key=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatrixPusher(Base):
    """A pusher a client registered. Kept and listed, never called: Polaris sends no push
    notifications yet (docs/matrix.md, "Gaps")."""

    __tablename__ = "matrix_pusher"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pushkey: Mapped[str] = mapped_column(String(512), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatrixMedia(Base):
    """An upload: ``mxc://<server>/<media_id>`` names one version of a drive file."""

    __tablename__ = "matrix_media"

    media_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: The drive's ids, without foreign keys: the drive purges files on its own terms (trash,
    #: retention), and a purged version makes the media id answer 404 like any missing one.
    node_id: Mapped[int] = mapped_column(Integer, index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(255))
    upload_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatrixLoginToken(Base):
    """A short-lived, single-use ``m.login.token`` minted by a signed-in browser session: the
    way a role that needs MFA signs a Matrix app in. Only the SHA-256 is kept; ``auth_factors``
    are those of the minting session, carried to the new one."""

    __tablename__ = "matrix_login_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    auth_factors: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
