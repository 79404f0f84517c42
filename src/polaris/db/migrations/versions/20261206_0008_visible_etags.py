"""visible etags

A node's ETag and modification time per clearance (``polaris.drive.stamps``): a folder's ETag
must not move for a change the caller may not see. The plain ``etag`` and ``modified_at`` stay
the Secret level's; the three lower levels get columns of their own, filled from them.

The columns are added NOT NULL with a placeholder default (SQLite cannot add a NOT NULL column
without one, nor drop a default without copying the table); PostgreSQL drops the default after
the copy, SQLite keeps it (the application always writes the columns).

Revision ID: 20261206_0008
Revises: 20261206_0007
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0008"
down_revision = "20261206_0007"
branch_labels = None
depends_on = None

LEVELS = ("unclassified", "restricted", "confidential")
EPOCH = "1970-01-01 00:00:00"


def upgrade() -> None:
    for level in LEVELS:
        op.add_column(
            "node",
            sa.Column(f"etag_{level}", sa.String(length=32), nullable=False, server_default=""),
        )
        op.add_column(
            "node",
            sa.Column(
                f"modified_at_{level}",
                polaris.db.base.UTCDateTime(timezone=True),
                nullable=False,
                server_default=EPOCH,
            ),
        )
    copies = ", ".join(
        f"etag_{level} = etag, modified_at_{level} = modified_at" for level in LEVELS
    )
    op.execute(f"UPDATE node SET {copies}")  # noqa: S608 (constant column names)
    if op.get_context().dialect.name == "postgresql":
        for level in LEVELS:
            op.alter_column("node", f"etag_{level}", server_default=None)
            op.alter_column("node", f"modified_at_{level}", server_default=None)


def downgrade() -> None:
    for level in reversed(LEVELS):
        op.drop_column("node", f"modified_at_{level}")
        op.drop_column("node", f"etag_{level}")
