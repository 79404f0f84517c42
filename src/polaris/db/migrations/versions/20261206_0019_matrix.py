"""matrix: devices, filters, account data, pushers, media and login tokens of the Matrix API

The tables of ``polaris.matrix`` (docs/matrix.md). A device ties a Matrix ``device_id`` to the
identity session its access token stands for; a media id names one version of a drive file.

Revision ID: 20261206_0019
Revises: 20261206_0017
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0019"
down_revision = "20261206_0018"
branch_labels = None
depends_on = None


def _user() -> sa.Column[int]:
    return sa.Column("user_id", sa.Integer(), nullable=False)


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, polaris.db.base.UTCDateTime(timezone=True), nullable=nullable)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["user_account.id"], name=op.f(f"fk_{table}_user_id_user_account")
    )


def upgrade() -> None:
    op.create_table(
        "matrix_device",
        sa.Column("id", sa.Integer(), nullable=False),
        _user(),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        _at("created_at"),
        _user_fk("matrix_device"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matrix_device")),
        sa.UniqueConstraint("session_id", name=op.f("uq_matrix_device_session_id")),
        sa.UniqueConstraint(
            "user_id", "device_id", name=op.f("uq_matrix_device_user_id_device_id")
        ),
    )
    op.create_table(
        "matrix_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        _user(),
        sa.Column("definition", sa.JSON(), nullable=False),
        _at("created_at"),
        _user_fk("matrix_filter"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matrix_filter")),
    )
    op.create_index(op.f("ix_matrix_filter_user_id"), "matrix_filter", ["user_id"])
    op.create_table(
        "matrix_account_data",
        _user(),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        _at("updated_at"),
        _user_fk("matrix_account_data"),
        sa.PrimaryKeyConstraint("user_id", "room_id", "type", name=op.f("pk_matrix_account_data")),
    )
    op.create_table(
        "matrix_pusher",
        _user(),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("pushkey", sa.String(length=512), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        _at("created_at"),
        _user_fk("matrix_pusher"),
        sa.PrimaryKeyConstraint("user_id", "app_id", "pushkey", name=op.f("pk_matrix_pusher")),
    )
    op.create_table(
        "matrix_media",
        sa.Column("media_id", sa.String(length=64), nullable=False),
        _user(),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("upload_name", sa.String(length=255), nullable=True),
        _at("created_at"),
        _user_fk("matrix_media"),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_matrix_media")),
    )
    op.create_index(op.f("ix_matrix_media_user_id"), "matrix_media", ["user_id"])
    op.create_index(op.f("ix_matrix_media_node_id"), "matrix_media", ["node_id"])
    op.create_table(
        "matrix_login_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _user(),
        sa.Column("auth_factors", sa.String(length=64), nullable=False),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        _user_fk("matrix_login_token"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_matrix_login_token")),
    )
    op.create_index(op.f("ix_matrix_login_token_user_id"), "matrix_login_token", ["user_id"])


def downgrade() -> None:
    for table in (
        "matrix_login_token",
        "matrix_media",
        "matrix_pusher",
        "matrix_account_data",
        "matrix_filter",
        "matrix_device",
    ):
        op.drop_table(table)
