"""renditions go with their version

A purge deletes a file's versions; what ingest derived from them (previews, the OCR PDF) now goes
with them in the same statement (``ON DELETE CASCADE``, as the extracted text already did), so the
drive need not ask ingest to forget them first. Ingest follows the purge through the change stream.

Revision ID: 20261206_0010
Revises: 20261206_0009
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "20261206_0010"
down_revision = "20261206_0009"
branch_labels = None
depends_on = None

FK = "fk_rendition_version_id_file_version"


def _recreate(ondelete: str | None) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table (recreate) there.
    with op.batch_alter_table("rendition", schema=None) as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.create_foreign_key(FK, "file_version", ["version_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    _recreate("CASCADE")


def downgrade() -> None:
    _recreate(None)
