"""content_scan: malware scan state of stored content

One row per content (SHA-256) that was scanned or is waiting for its scan (docs/resilience.md,
"Malware scanning"). Instances without scanning have no rows, and no rows means "not scanned".

Revision ID: 20261206_0011
Revises: 20261206_0010
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0011"
down_revision = "20261206_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_scan",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scanned_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["user_account.id"],
            name=op.f("fk_content_scan_uploader_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_content_scan")),
    )
    op.create_index("ix_content_scan_state", "content_scan", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_content_scan_state", table_name="content_scan")
    op.drop_table("content_scan")
