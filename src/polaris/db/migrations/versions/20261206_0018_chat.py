"""chat_room, chat_member, chat_event, chat_receipt, chat_broadcast_ack, chat_attachment: the
messenger (docs/chat.md, "The model")

Revision ID: 20261206_0018
Revises: 20261206_0017
Create Date: 2026-12-06 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0018"
down_revision = "20261206_0017"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, polaris.db.base.UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "chat_room",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("direct_key", sa.String(length=64), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("direct_key"),
    )
    op.create_index("ix_chat_room_unit_id", "chat_room", ["unit_id"])
    op.create_table(
        "chat_member",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("membership", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        _time("since", nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["chat_room.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("room_id", "user_id"),
    )
    op.create_index("ix_chat_member_user_id", "chat_member", ["user_id"])
    op.create_table(
        "chat_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=48), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("state_type", sa.String(length=16), nullable=True),
        sa.Column("state_key", sa.Integer(), nullable=True),
        sa.Column("state_value", sa.String(length=16), nullable=True),
        sa.Column("reply_to_id", sa.Integer(), nullable=True),
        sa.Column("edits_id", sa.Integer(), nullable=True),
        sa.Column("redacts_id", sa.Integer(), nullable=True),
        _time("redacted_at", nullable=True),
        sa.Column("redacted_by", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("txn_id", sa.String(length=255), nullable=True),
        _time("created_at", nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["chat_room.id"]),
        sa.ForeignKeyConstraint(["sender_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["reply_to_id"], ["chat_event.id"]),
        sa.ForeignKeyConstraint(["edits_id"], ["chat_event.id"]),
        sa.ForeignKeyConstraint(["redacts_id"], ["chat_event.id"]),
        sa.ForeignKeyConstraint(["redacted_by"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
        sa.UniqueConstraint("room_id", "seq", name="uq_chat_event_room_seq"),
        sa.UniqueConstraint("sender_id", "device_id", "txn_id", name="uq_chat_event_txn"),
    )
    op.create_index("ix_chat_event_edits_id", "chat_event", ["edits_id"])
    op.create_table(
        "chat_receipt",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("up_to_seq", sa.Integer(), nullable=False),
        _time("at", nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["chat_room.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("room_id", "user_id"),
    )
    op.create_table(
        "chat_broadcast_ack",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        _time("acknowledged_at", nullable=True),
        _time("reminded_at", nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["chat_event.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("event_id", "user_id"),
    )
    op.create_index(
        "ix_chat_broadcast_ack_user", "chat_broadcast_ack", ["user_id", "acknowledged_at"]
    )
    op.create_table(
        "chat_attachment",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("classification", sa.Integer(), nullable=False),
        sa.Column("share_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["chat_event.id"]),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["file_version.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_chat_attachment_node_id", "chat_attachment", ["node_id"])


def downgrade() -> None:
    for table in (
        "chat_attachment",
        "chat_broadcast_ack",
        "chat_receipt",
        "chat_event",
        "chat_member",
        "chat_room",
    ):
        op.drop_table(table)
