"""Heads of units may lower a classification: ``declassify`` added to their roles

Raising a node's level stays ``classify``; lowering it below its own level is ``declassify``
(``access.policy`` rule 7), granted by the roles of station heads and above, in their unit and,
for supervisors, in the units below (where they already act). Roles an administrator made are
left alone: whether they may downgrade is the administrator's choice.

Revision ID: 20261207_0027
Revises: 20261206_0026
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_0027"
down_revision = "20261206_0026"
branch_labels = None
depends_on = None

HEADS = ("station_head", "subdivision_head", "district_head", "range_head", "hq_head")

role = sa.table(
    "role",
    sa.column("code", sa.String),
    sa.column("unit_actions", sa.JSON),
    sa.column("subtree_actions", sa.JSON),
)


def _change(add: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(role.c.code, role.c.unit_actions, role.c.subtree_actions).where(
            role.c.code.in_(HEADS)
        )
    ).all()
    for code, unit_actions, subtree_actions in rows:
        values: dict[str, list[str]] = {}
        # In their unit where they classify; below it where their role reaches at all.
        pairs = (
            ("unit_actions", unit_actions, "classify"),
            ("subtree_actions", subtree_actions, None),
        )
        for column, held, needs in pairs:
            actions = list(held or [])
            reaches = bool(actions) and (needs is None or needs in actions)
            if add and reaches and "declassify" not in actions:
                values[column] = [*actions, "declassify"]
            elif not add and "declassify" in actions:
                values[column] = [a for a in actions if a != "declassify"]
        if values:
            connection.execute(sa.update(role).where(role.c.code == code).values(**values))


def upgrade() -> None:
    _change(add=True)


def downgrade() -> None:
    _change(add=False)
