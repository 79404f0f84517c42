"""retention_rule, legal_hold: retention rules and legal holds of the drive

Rules per space, folder (subtree) or classification level: how long old versions and the trash are
kept; legal holds on a node's subtree block every purge and version expiry (docs/resilience.md,
"Retention and legal hold").

Revision ID: 20261206_0013
Revises: 20261206_0012
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0013"
down_revision = "20261206_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.Integer(), nullable=True),
        sa.Column("classification", sa.Integer(), nullable=True),
        sa.Column("keep_versions_years", sa.Integer(), nullable=True),
        sa.Column("purge_trash_days", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"], ["space.id"], name=op.f("fk_retention_rule_space_id_space")
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["node.id"],
            name=op.f("fk_retention_rule_node_id_node"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_retention_rule_created_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_rule")),
    )
    op.create_index(op.f("ix_retention_rule_space_id"), "retention_rule", ["space_id"])
    op.create_index(op.f("ix_retention_rule_node_id"), "retention_rule", ["node_id"])
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("held_by", sa.Integer(), nullable=True),
        sa.Column("held_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.Integer(), nullable=True),
        sa.Column("release_reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["held_by"], ["user_account.id"], name=op.f("fk_legal_hold_held_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["released_by"],
            ["user_account.id"],
            name=op.f("fk_legal_hold_released_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
    )
    op.create_index(op.f("ix_legal_hold_node_id"), "legal_hold", ["node_id"])
    op.create_index(
        "uq_legal_hold_active",
        "legal_hold",
        ["node_id"],
        unique=True,
        sqlite_where=sa.text("released_at IS NULL"),
        postgresql_where=sa.text("released_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_legal_hold_active", table_name="legal_hold")
    op.drop_index(op.f("ix_legal_hold_node_id"), table_name="legal_hold")
    op.drop_table("legal_hold")
    op.drop_index(op.f("ix_retention_rule_node_id"), table_name="retention_rule")
    op.drop_index(op.f("ix_retention_rule_space_id"), table_name="retention_rule")
    op.drop_table("retention_rule")
