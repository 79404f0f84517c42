"""ransomware guard

An account's writes can be frozen (``user_account.writes_frozen_at``, read with the actor by
``access``); the guard keeps its sliding window, score and evidence per account
(``guard_account``) and the files marked as canaries (``guard_canary``).

Revision ID: 20261206_0012
Revises: 20261206_0011
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0012"
down_revision = "20261206_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("writes_frozen_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "guard_account",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("minute_start", sa.Integer(), nullable=False),
        sa.Column("minute_writes", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("frozen_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_guard_account_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_guard_account")),
    )
    op.create_table(
        "guard_canary",
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("marked_by", sa.Integer(), nullable=True),
        sa.Column("marked_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["node.id"],
            name=op.f("fk_guard_canary_node_id_node"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_guard_canary")),
    )


def downgrade() -> None:
    op.drop_table("guard_canary")
    op.drop_table("guard_account")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("writes_frozen_at")
