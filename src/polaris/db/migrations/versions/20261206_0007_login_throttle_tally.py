"""login throttle tally

One row per source address counting its throttled sign-in attempts in the current window, so
that throttled attempts are audited once per window with their count instead of one record each.

Revision ID: 20261206_0007
Revises: 20261206_0006
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0007"
down_revision = "20261206_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=160), nullable=False),
        sa.Column("window_started_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttle_tally")),
        sa.UniqueConstraint("source", name=op.f("uq_login_throttle_tally_source")),
    )
    with op.batch_alter_table("login_throttle_tally", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttle_tally_window_started_at"),
            ["window_started_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("login_throttle_tally", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_tally_window_started_at"))
    op.drop_table("login_throttle_tally")
