"""An index for a page of a folder: ``node (parent_id, kind, sort_name, id)`` over live nodes

A page lists folders first, then files, each by name (``drive.repo.children_page``). The index
``ix_node_parent_sort`` gave no order for "folders first", so every page sorted the whole folder
and its time grew with the folder's size; with this one each kind is read in order and the read
stops after a page.

Revision ID: 20261207_0030
Revises: 20261207_0027
Create Date: 2026-12-07 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_0030"
down_revision = "20261207_0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_node_live_children",
        "node",
        ["parent_id", "kind", "sort_name", "id"],
        unique=False,
        sqlite_where=sa.text("trashed_at IS NULL"),
        postgresql_where=sa.text("trashed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_node_live_children", table_name="node")
