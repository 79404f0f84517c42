"""content_scan.released_by, released_at: an administrator's release of quarantined content

A malware scan's false positive is released by an administrator (``drive.quarantine``): the
content's state becomes ``passed`` with the reason in ``detail``, and these two columns say who
released it and when, for the file's page (docs/resilience.md, "Malware scanning").

Revision ID: 20261206_0015
Revises: 20261206_0013
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0015"
down_revision = "20261206_0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("content_scan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("released_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_content_scan_released_by_user_account"),
            "user_account",
            ["released_by"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("content_scan", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_content_scan_released_by_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("released_at")
        batch_op.drop_column("released_by")
