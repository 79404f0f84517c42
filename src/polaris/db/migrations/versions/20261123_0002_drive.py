"""drive: spaces, nodes, versions, shares, uploads, groups

Revision ID: 20261123_0002
Revises: 20261123_0001
Create Date: 2026-11-23 11:04:23.447916
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261123_0002"
down_revision = "20261123_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_user_group_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_group")),
        sa.UniqueConstraint("name", name=op.f("uq_user_group_name")),
    )
    op.create_table(
        "group_member",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["user_group.id"], name=op.f("fk_group_member_group_id_user_group")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_group_member_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_member")),
    )
    with op.batch_alter_table("group_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_member_user_id"), ["user_id"], unique=False)

    op.create_table(
        "space",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("root_id", sa.Integer(), nullable=True),
        sa.Column("classification", sa.Integer(), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user_account.id"], name=op.f("fk_space_owner_id_user_account")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_space_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_space")),
    )
    with op.batch_alter_table("space", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_space_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_space_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(
            "uq_space_owner",
            ["owner_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'user'"),
            postgresql_where=sa.text("kind = 'user'"),
        )
        batch_op.create_index(
            "uq_space_unit",
            ["unit_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'unit'"),
            postgresql_where=sa.text("kind = 'unit'"),
        )

    op.create_table(
        "upload",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("overwrite", sa.Boolean(), nullable=False),
        sa.Column("if_match", sa.String(length=64), nullable=True),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.JSON(), nullable=False),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_upload_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload")),
    )
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_upload_user_id"), ["user_id"], unique=False)

    op.create_table(
        "node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sort_name", sa.String(length=1020), nullable=False),
        sa.Column("classification", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trashed_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("trashed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_node_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["node.id"], name=op.f("fk_node_parent_id_node")),
        sa.ForeignKeyConstraint(["space_id"], ["space.id"], name=op.f("fk_node_space_id_space")),
        sa.ForeignKeyConstraint(
            ["trashed_by"], ["user_account.id"], name=op.f("fk_node_trashed_by_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node")),
    )
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.create_index("ix_node_parent_sort", ["parent_id", "sort_name", "id"], unique=False)
        batch_op.create_index(
            "ix_node_path", ["path"], unique=False, postgresql_ops={"path": "varchar_pattern_ops"}
        )
        batch_op.create_index(batch_op.f("ix_node_space_id"), ["space_id"], unique=False)
        batch_op.create_index("ix_node_trash", ["space_id", "trashed_at"], unique=False)
        batch_op.create_index(
            "uq_node_live_name",
            ["parent_id", "name"],
            unique=True,
            sqlite_where=sa.text("trashed_at IS NULL"),
            postgresql_where=sa.text("trashed_at IS NULL"),
        )

    op.create_table(
        "file_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_id", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_file_version_created_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["node.id"], name=op.f("fk_file_version_node_id_node")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_version")),
    )
    with op.batch_alter_table("file_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_file_version_node_id"), ["node_id"], unique=False)
        batch_op.create_index("uq_file_version_node_number", ["node_id", "number"], unique=True)

    op.create_table(
        "share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=8), nullable=False),
        sa.Column("include_subunits", sa.Boolean(), nullable=False),
        sa.Column("expires_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", polaris.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_share_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name=op.f("fk_share_node_id_node")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share")),
    )
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_created_by"), ["created_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_share_node_id"), ["node_id"], unique=False)
        batch_op.create_index("ix_share_subject", ["subject_type", "subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share", schema=None) as batch_op:
        batch_op.drop_index("ix_share_subject")
        batch_op.drop_index(batch_op.f("ix_share_node_id"))
        batch_op.drop_index(batch_op.f("ix_share_created_by"))

    op.drop_table("share")
    with op.batch_alter_table("file_version", schema=None) as batch_op:
        batch_op.drop_index("uq_file_version_node_number")
        batch_op.drop_index(batch_op.f("ix_file_version_node_id"))

    op.drop_table("file_version")
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_node_live_name",
            sqlite_where=sa.text("trashed_at IS NULL"),
            postgresql_where=sa.text("trashed_at IS NULL"),
        )
        batch_op.drop_index("ix_node_trash")
        batch_op.drop_index(batch_op.f("ix_node_space_id"))
        batch_op.drop_index("ix_node_path")
        batch_op.drop_index("ix_node_parent_sort")

    op.drop_table("node")
    with op.batch_alter_table("upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_user_id"))
        batch_op.drop_index(batch_op.f("ix_upload_expires_at"))

    op.drop_table("upload")
    with op.batch_alter_table("space", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_space_unit",
            sqlite_where=sa.text("kind = 'unit'"),
            postgresql_where=sa.text("kind = 'unit'"),
        )
        batch_op.drop_index(
            "uq_space_owner",
            sqlite_where=sa.text("kind = 'user'"),
            postgresql_where=sa.text("kind = 'user'"),
        )
        batch_op.drop_index(batch_op.f("ix_space_unit_id"))
        batch_op.drop_index(batch_op.f("ix_space_owner_id"))

    op.drop_table("space")
    with op.batch_alter_table("group_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_member_user_id"))

    op.drop_table("group_member")
    op.drop_table("user_group")
