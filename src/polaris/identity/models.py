"""Tables of the identity package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from polaris.clock import utcnow
from polaris.db.base import Base, UTCDateTime


class Unit(Base):
    """An office in the hierarchy: PHQ, range, district, sub-division, police station, branch."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_hi: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitClosure(Base):
    """Every (ancestor, descendant) pair of the unit tree, including (u, u) at depth 0."""

    __tablename__ = "unit_closure"

    ancestor_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True)
    descendant_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True, index=True)
    depth: Mapped[int] = mapped_column(Integer)


class Role(Base):
    """A configurable role. Actions are names understood by ``polaris.access``.

    ``unit_actions`` apply in the user's own unit; ``subtree_actions`` apply in every unit below it
    (supervisory reach goes down the tree only).
    """

    __tablename__ = "role"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    name_hi: Mapped[str | None] = mapped_column(String(255))
    rank_order: Mapped[int] = mapped_column(Integer, default=0)
    unit_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    subtree_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    requires_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    max_clearance: Mapped[int] = mapped_column(Integer, default=3)


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint("clearance BETWEEN 0 AND 3", name="clearance_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    rank: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    clearance: Mapped[int] = mapped_column(Integer, default=0)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    mfa_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    mfa_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Set by the ransomware guard (``polaris.resilience``): the account may read but not write.
    writes_frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    role: Mapped[Role] = relationship(lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")


class RecoveryCode(Base):
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class UserSession(Base):
    """A server-side session. The id is the SHA-256 of the token; the token itself is never stored.

    ``stage`` is ``active`` for a full session, ``mfa`` after a correct password while the second
    factor is awaited, ``enrol`` when a role requires MFA that the user has not yet set up.
    """

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    auth_factors: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source_address: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(255))
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))


class ApiToken(Base):
    """A scoped API token. Only the SHA-256 of the secret is kept; ``prefix`` helps people tell
    tokens apart in lists."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AppPassword(Base):
    """A password for one device's WebDAV client (``identity.app_passwords``): random, shown once,
    only its SHA-256 kept; ``scope`` is ``read`` or ``write`` (read and write)."""

    __tablename__ = "app_password"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed sign-in attempts per key (``account:<username>`` or ``source:<address>``).

    Kept for unknown usernames too, so that an unknown and a known account behave alike.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginThrottleTally(Base):
    """Refused (throttled) sign-in attempts from one source address in the current window.

    A throttled attempt is not audited one row each (that let an unauthenticated client grow the
    log by megabytes a minute): the first of a window is, later ones only count here, and the
    count goes into one summary record when the window ends (``polaris.identity.throttle``).
    ``attempts`` is 0 between windows.
    """

    __tablename__ = "login_throttle_tally"
    __table_args__ = (UniqueConstraint("source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(160))
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class UserGroup(Base):
    """A named set of users (a task force, a cell) that drive items can be shared with."""

    __tablename__ = "user_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_member"

    group_id: Mapped[int] = mapped_column(ForeignKey("user_group.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id"), primary_key=True, index=True
    )


class IdentityStamp(Base):
    """One row (id 1) whose ``value`` changes with every change of ``unit_closure`` and
    ``group_member``: database triggers (migration ``20261206_0017``) give it a new random value
    in the changing transaction, whoever changes them. ``identity.facts`` caches unit reach and
    group memberships per process under the stamp they were read with."""

    __tablename__ = "identity_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


Index("ix_user_session_user_active", UserSession.user_id, UserSession.ended_at)


class LoginFlow(Base):
    """A Nextcloud login flow v2 (``identity.login_flow``): a client polls with ``poll_hash`` (the
    SHA-256 of the poll token it holds) while the person signs in at the page named by
    ``login_hash``; granting makes an app password, handed out once (only its SHA-256 is kept
    elsewhere: ``secret`` holds it, sealed so that only the polling app can open it, between the
    grant and the one poll that takes it)."""

    __tablename__ = "dav_login_flow"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_hash: Mapped[str] = mapped_column(String(64), unique=True)
    login_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    username: Mapped[str | None] = mapped_column(String(255))
    #: X25519: the public key, and the private key sealed under the poll token's key.
    public_key: Mapped[str] = mapped_column(String(64))
    private_key: Mapped[str] = mapped_column(String(128))
    #: The app password once granted, sealed to ``public_key`` (``identity.login_flow``).
    secret: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
