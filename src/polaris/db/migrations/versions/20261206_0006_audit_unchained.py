"""audit records inserted unchained, sealed later; chained checkpoints

``audit_record`` gets a database-generated ``id`` as its primary key (existing records keep
``id = seq``); ``seq``, ``prev_hash``, ``hash`` and ``hash_version`` become NULL until the sealer
chains the record. ``audit_checkpoint`` gets ``version``, ``prev_seq`` and ``prev_hash``
(NULL for the version 1 checkpoints already there).

On SQLite the table is rebuilt (the rowid becomes ``id``); on PostgreSQL it is altered in place.
The downgrade refuses while unsealed records exist: seal them first (``polaris audit seal``).

Revision ID: 20261206_0006
Revises: 20261123_0005
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import polaris.db.base

revision = "20261206_0006"
down_revision = "20261123_0005"
branch_labels = None
depends_on = None

_COLUMNS = (
    "at, actor_id, actor_name, actor_role, unit_id, auth_factors, session_hash, source_address, "
    "client, action, object_type, object_id, version_hash, classification, decision, reason, "
    "request_id, detail, prev_hash, hash, hash_version"
)
_OLD_INDEXES = {
    "ix_audit_record_action_seq": ["action", "seq"],
    "ix_audit_record_actor_id_seq": ["actor_id", "seq"],
    "ix_audit_record_object_seq": ["object_type", "object_id", "seq"],
    "ix_audit_record_unit_id_seq": ["unit_id", "seq"],
}
_NEW_INDEXES = {
    "ix_audit_record_action_id": ["action", "id"],
    "ix_audit_record_actor_id_id": ["actor_id", "id"],
    "ix_audit_record_object_id": ["object_type", "object_id", "id"],
    "ix_audit_record_unit_id_id": ["unit_id", "id"],
}
_NULLABLE_LATER: dict[str, sa.types.TypeEngine[Any]] = {
    "prev_hash": sa.String(length=64),
    "hash": sa.String(length=64),
    "hash_version": sa.SmallInteger(),
}
_UNSEALED = sa.text("seq IS NULL")


def _record_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", polaris.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_name", sa.String(length=255), nullable=True),
        sa.Column("actor_role", sa.String(length=64), nullable=True),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("auth_factors", sa.String(length=64), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=512), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=128), nullable=True),
        sa.Column("version_hash", sa.String(length=128), nullable=True),
        sa.Column("classification", sa.String(length=32), nullable=True),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.Column("hash_version", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint("decision IN ('allow', 'deny')", name=op.f("ck_audit_record_decision")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
    )


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        for name in _OLD_INDEXES:
            batch_op.drop_index(name)
    if postgresql:
        op.execute("ALTER TABLE audit_record DROP CONSTRAINT pk_audit_record")
        op.execute("ALTER TABLE audit_record ADD COLUMN id BIGSERIAL")
        op.execute("UPDATE audit_record SET id = seq")
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_record', 'id'), "
            "COALESCE((SELECT MAX(id) FROM audit_record), 0) + 1, false)"
        )
        op.execute("ALTER TABLE audit_record ADD CONSTRAINT pk_audit_record PRIMARY KEY (id)")
        op.execute("ALTER TABLE audit_record ALTER COLUMN seq DROP NOT NULL")
        for column in _NULLABLE_LATER:
            op.execute(f"ALTER TABLE audit_record ALTER COLUMN {column} DROP NOT NULL")
    else:
        _record_table("_audit_record_new")
        op.execute(
            f"INSERT INTO _audit_record_new (id, seq, {_COLUMNS}) "  # noqa: S608 - constants
            f"SELECT seq, seq, {_COLUMNS} FROM audit_record"
        )
        op.drop_index("ix_audit_record_at", table_name="audit_record")
        op.drop_table("audit_record")
        op.rename_table("_audit_record_new", "audit_record")
        op.create_index("ix_audit_record_at", "audit_record", ["at"], unique=False)
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_index("ix_audit_record_seq", ["seq"], unique=True)
        for name, columns in _NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index(
            "ix_audit_record_unsealed",
            ["id"],
            unique=False,
            postgresql_where=_UNSEALED,
            sqlite_where=_UNSEALED,
        )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.SmallInteger(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("prev_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    unsealed = bind.execute(sa.text("SELECT COUNT(*) FROM audit_record WHERE seq IS NULL"))
    if unsealed.scalar_one():
        raise RuntimeError("unsealed audit records exist: run `polaris audit seal` first")
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("prev_seq")
        batch_op.drop_column("version")
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_record_unsealed")
        for name in _NEW_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_index("ix_audit_record_seq")
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_record DROP CONSTRAINT pk_audit_record")
        op.execute("ALTER TABLE audit_record DROP COLUMN id")
        for column in ("seq", *_NULLABLE_LATER):
            op.execute(f"ALTER TABLE audit_record ALTER COLUMN {column} SET NOT NULL")
        op.execute("ALTER TABLE audit_record ADD CONSTRAINT pk_audit_record PRIMARY KEY (seq)")
    else:
        with op.batch_alter_table("audit_record", schema=None, recreate="always") as batch_op:
            for column, type_ in _NULLABLE_LATER.items():
                batch_op.alter_column(column, existing_type=type_, nullable=False)
            batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
            batch_op.drop_constraint("pk_audit_record", type_="primary")
            batch_op.drop_column("id")
            batch_op.create_primary_key("pk_audit_record", ["seq"])
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        for name, columns in _OLD_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
