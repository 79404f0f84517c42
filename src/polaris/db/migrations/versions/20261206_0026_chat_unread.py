"""Unread counts kept per member: ``chat_member.unread`` (``polaris.chat.unread``)

Filled here from the receipts, by the definition docs/chat.md gives; from then on every send,
redaction, receipt and purge keeps it up to date.

Revision ID: 20261206_0026
Revises: 20261206_0023 (re-chained at merge)
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_0026"
down_revision = "20261206_0023"
branch_labels = None
depends_on = None

FILL = """
UPDATE chat_member SET unread = (
    SELECT count(e.id) FROM chat_event e
    WHERE e.room_id = chat_member.room_id
      AND e.seq > coalesce((
          SELECT r.up_to_seq FROM chat_receipt r
          WHERE r.room_id = chat_member.room_id AND r.user_id = chat_member.user_id
      ), 0)
      AND e.kind IN ('text', 'notice', 'attachment')
      AND e.edits_id IS NULL
      AND e.redacted_at IS NULL
      AND (e.sender_id IS NULL OR e.sender_id != chat_member.user_id)
)
"""


def upgrade() -> None:
    with op.batch_alter_table("chat_member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unread", sa.Integer(), server_default="0", nullable=False))
    op.execute(FILL)


def downgrade() -> None:
    with op.batch_alter_table("chat_member", schema=None) as batch_op:
        batch_op.drop_column("unread")
