"""WebDAV: app passwords, locks and dead properties

``app_password``: a password per device for WebDAV clients, only its SHA-256 kept
(``identity.app_passwords``). ``dav_lock`` and ``dav_property``: WebDAV class 2 locks and dead
properties, in the database so that every node sees them (``dav.locks``, ``dav.properties``).

Revision ID: 20261206_0020
Revises: 20261206_0019
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from polaris.db.base import UTCDateTime

revision = "20261206_0020"
down_revision = "20261206_0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_password",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_app_password_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_password")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_app_password_secret_hash")),
    )
    op.create_index(op.f("ix_app_password_user_id"), "app_password", ["user_id"])
    op.create_table(
        "dav_lock",
        sa.Column("token", sa.String(length=100), nullable=False),
        sa.Column("root", sa.String(length=4096), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_dav_lock")),
    )
    op.create_index(op.f("ix_dav_lock_root"), "dav_lock", ["root"])
    op.create_index(op.f("ix_dav_lock_expires"), "dav_lock", ["expires"])
    op.create_table(
        "dav_property",
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["node.id"], name=op.f("fk_dav_property_node_id_node"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", "name", name=op.f("pk_dav_property")),
    )


def downgrade() -> None:
    op.drop_table("dav_property")
    op.drop_index(op.f("ix_dav_lock_expires"), table_name="dav_lock")
    op.drop_index(op.f("ix_dav_lock_root"), table_name="dav_lock")
    op.drop_table("dav_lock")
    op.drop_index(op.f("ix_app_password_user_id"), table_name="app_password")
    op.drop_table("app_password")
