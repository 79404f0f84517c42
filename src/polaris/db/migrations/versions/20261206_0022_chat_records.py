"""The messenger's records: retention per room kind, holds on rooms and users, the message index

``retention_rule.room_kind`` and ``keep_messages_days``: how long the messages of a kind of room
are kept (``chat.retention``). ``legal_hold.room_id`` and ``user_id``: a hold on a messenger room,
or on everything a user sent in it (``node_id`` becomes optional: exactly one of the three).
``chat_event.purged_at``: retention removed the message's text. ``chat_search_entry``: the
PostgreSQL engine's message index (``search.messages``), the shape of ``search_entry``.

Revision ID: 20261206_0022
Revises: 20261206_0020 (re-chained onto 20261206_0021 at merge)
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from polaris.db.base import UTCDateTime

revision = "20261206_0022"
down_revision = "20261206_0021"
branch_labels = None
depends_on = None

ACTIVE = "released_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("retention_rule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("room_kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("keep_messages_days", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_retention_rule_room_kind"), ["room_kind"])
    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.alter_column("node_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("room_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_legal_hold_room_id"), ["room_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_legal_hold_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            "uq_legal_hold_active_room",
            ["room_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
        batch_op.create_index(
            "uq_legal_hold_active_user",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
    with op.batch_alter_table("chat_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "chat_search_entry",
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
        sa.Column("modified_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "document",
            sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"),
            nullable=False,
        ),
        sa.Column("indexed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_chat_search_entry")),
    )
    with op.batch_alter_table("chat_search_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_search_entry_document", ["document"], unique=False, postgresql_using="gin"
        )
        batch_op.create_index("ix_chat_search_entry_modified_at", ["modified_at"], unique=False)
        batch_op.create_index("ix_chat_search_entry_space_id", ["space_id"], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE chat_search_entry ALTER COLUMN document SET STORAGE MAIN")


def downgrade() -> None:
    with op.batch_alter_table("chat_search_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_search_entry_space_id")
        batch_op.drop_index("ix_chat_search_entry_modified_at")
        batch_op.drop_index("ix_chat_search_entry_document")
    op.drop_table("chat_search_entry")
    with op.batch_alter_table("chat_event", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
    op.execute("DELETE FROM legal_hold WHERE node_id IS NULL")
    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.drop_index("uq_legal_hold_active_user")
        batch_op.drop_index("uq_legal_hold_active_room")
        batch_op.drop_index(batch_op.f("ix_legal_hold_user_id"))
        batch_op.drop_index(batch_op.f("ix_legal_hold_room_id"))
        batch_op.drop_column("user_id")
        batch_op.drop_column("room_id")
        batch_op.alter_column("node_id", existing_type=sa.Integer(), nullable=False)
    op.execute("DELETE FROM retention_rule WHERE room_kind IS NOT NULL")
    with op.batch_alter_table("retention_rule", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_retention_rule_room_kind"), type_="unique")
        batch_op.drop_column("keep_messages_days")
        batch_op.drop_column("room_kind")
