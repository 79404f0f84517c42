"""search index

The PostgreSQL search engine's table (``polaris.search.models.SearchEntry``). It is created on
SQLite as well, so both databases have one schema; there it stays empty (the embedded shape
searches with Tantivy) and its GIN indexes are plain, unused indexes.

Revision ID: 20261123_0005
Revises: 20261123_0004
Create Date: 2026-11-23 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import polaris.db.base

revision = "20261123_0005"
down_revision = "20261123_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_entry",
        sa.Column("node_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column(
            "ancestors",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Integer()), "postgresql"),
            nullable=False,
        ),
        sa.Column("classification", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("modified_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "document",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=False,
        ),
        sa.Column("indexed_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_search_entry")),
    )
    with op.batch_alter_table("search_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_search_entry_ancestors", ["ancestors"], unique=False, postgresql_using="gin"
        )
        batch_op.create_index(
            "ix_search_entry_document", ["document"], unique=False, postgresql_using="gin"
        )
        batch_op.create_index("ix_search_entry_modified_at", ["modified_at"], unique=False)
        batch_op.create_index("ix_search_entry_space_id", ["space_id"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        # Keep the tsvector in the row (the text goes to TOAST first): every match is re-read
        # for phrases and ranking, and a TOAST fetch made that three times slower.
        op.execute("ALTER TABLE search_entry ALTER COLUMN document SET STORAGE MAIN")


def downgrade() -> None:
    with op.batch_alter_table("search_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_search_entry_space_id")
        batch_op.drop_index("ix_search_entry_modified_at")
        batch_op.drop_index("ix_search_entry_document")
        batch_op.drop_index("ix_search_entry_ancestors")
    op.drop_table("search_entry")
