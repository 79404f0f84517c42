"""jobs and renditions

Revision ID: 20261123_0003
Revises: 20261123_0002
Create Date: 2026-11-23 13:43:25.145513
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261123_0003"
down_revision = "20261123_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_job_created_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("key", name=op.f("uq_job_key")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_due", ["status", "run_after"], unique=False)
        batch_op.create_index("ix_job_subject", ["subject_type", "subject_id"], unique=False)

    op.create_table(
        "rendition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["file_version.id"], name=op.f("fk_rendition_version_id_file_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rendition")),
    )
    with op.batch_alter_table("rendition", schema=None) as batch_op:
        batch_op.create_index(
            "uq_rendition_version_kind_page", ["version_id", "kind", "page"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("rendition", schema=None) as batch_op:
        batch_op.drop_index("uq_rendition_version_kind_page")

    op.drop_table("rendition")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_subject")
        batch_op.drop_index("ix_job_due")

    op.drop_table("job")
