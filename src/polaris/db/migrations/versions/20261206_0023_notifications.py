"""Notifications: one row per recipient (``polaris.notifications``)

Revision ID: 20261206_0023
Revises: 20261206_0022
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from polaris.db.base import UTCDateTime

revision = "20261206_0023"
down_revision = "20261206_0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index("ix_notification_user_id_read_at", "notification", ["user_id", "read_at"])
    op.create_index("ix_notification_kind_source_id", "notification", ["kind", "source_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_kind_source_id", table_name="notification")
    op.drop_index("ix_notification_user_id_read_at", table_name="notification")
    op.drop_table("notification")
