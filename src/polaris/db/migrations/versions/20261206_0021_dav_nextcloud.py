"""WebDAV for the Nextcloud clients: chunked uploads and login flows

``dav_upload`` and ``dav_upload_part``: Nextcloud chunked uploads (v2) in progress, their chunks
stored in the blob store (``dav.chunking``). ``dav_checksum``: the SHA-1 and MD5 of versions
written over WebDAV (``oc:checksums``, ``dav.checksums``). ``dav_login_flow``: login flow v2 sessions
(``identity.login_flow``).

Revision ID: 20261206_0021
Revises: 20261206_0020
Create Date: 2026-12-06 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from polaris.db.base import UTCDateTime

revision = "20261206_0021"
down_revision = "20261206_0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dav_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("destination", sa.String(length=4096), nullable=True),
        sa.Column("total_length", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_dav_upload_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_upload")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_dav_upload_user_id_name")),
    )
    op.create_index(op.f("ix_dav_upload_user_id"), "dav_upload", ["user_id"])
    op.create_index(op.f("ix_dav_upload_expires_at"), "dav_upload", ["expires_at"])
    op.create_table(
        "dav_upload_part",
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["dav_upload.id"],
            name=op.f("fk_dav_upload_part_upload_id_dav_upload"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "number", name=op.f("pk_dav_upload_part")),
    )
    op.create_table(
        "dav_checksum",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["file_version.id"],
            name=op.f("fk_dav_checksum_version_id_file_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_dav_checksum")),
    )
    op.create_table(
        "dav_login_flow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("poll_hash", sa.String(length=64), nullable=False),
        sa.Column("login_hash", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.String(length=128), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_dav_login_flow_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_login_flow")),
        sa.UniqueConstraint("poll_hash", name=op.f("uq_dav_login_flow_poll_hash")),
        sa.UniqueConstraint("login_hash", name=op.f("uq_dav_login_flow_login_hash")),
    )
    op.create_index(op.f("ix_dav_login_flow_expires_at"), "dav_login_flow", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dav_login_flow_expires_at"), table_name="dav_login_flow")
    op.drop_table("dav_login_flow")
    op.drop_table("dav_checksum")
    op.drop_table("dav_upload_part")
    op.drop_index(op.f("ix_dav_upload_expires_at"), table_name="dav_upload")
    op.drop_index(op.f("ix_dav_upload_user_id"), table_name="dav_upload")
    op.drop_table("dav_upload")
