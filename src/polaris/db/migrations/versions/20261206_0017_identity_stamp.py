"""identity stamp: a value that changes with every change of unit reach or group membership

One row (``identity_stamp``, id 1). Triggers on ``unit_closure`` and ``group_member`` give it a
new random value in the transaction of every insert, update or delete (and, on PostgreSQL,
truncate) of those tables, whatever code or person makes it. Each request reads the stamp with its
caller (``polaris.identity.facts``): a per-process cache of unit reach and group memberships is
used only while the stamp it was filled under is the one read, so a revoked membership is seen by
the very next request on every node.

Revision ID: 20261206_0017
Revises: 20261206_0015
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_0017"
down_revision = "20261206_0015"
branch_labels = None
depends_on = None

#: The tables whose rows the cache holds (``identity.facts``).
WATCHED = ("unit_closure", "group_member")
SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    table = op.create_table(
        "identity_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_stamp")),
    )
    op.bulk_insert(table, [{"id": 1, "value": 0}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION identity_stamp_renew() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE identity_stamp
                SET value = floor(random() * 9223372036854775807)::bigint WHERE id = 1;
                RETURN NULL;
            END $$
            """
        )
        for name in WATCHED:
            op.execute(
                f"CREATE TRIGGER {name}_renews_identity_stamp"
                f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {name}"
                " FOR EACH STATEMENT EXECUTE FUNCTION identity_stamp_renew()"
            )
        return
    for name in WATCHED:
        for verb in SQLITE_EVENTS:
            trigger = f"{name}_{verb.lower()}_renews_identity_stamp"
            op.execute(
                f"CREATE TRIGGER {trigger} AFTER {verb} ON {name} FOR EACH ROW"  # noqa: S608
                " BEGIN UPDATE identity_stamp SET value = random() WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {name}_renews_identity_stamp ON {name}")
        op.execute("DROP FUNCTION IF EXISTS identity_stamp_renew()")
    else:
        for name in WATCHED:
            for verb in SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {name}_{verb.lower()}_renews_identity_stamp")
    op.drop_table("identity_stamp")
