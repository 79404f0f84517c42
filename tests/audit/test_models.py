"""The audit tables the migrations build are the ones the models describe."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from polaris.tables import metadata

AUDIT_TABLE = re.compile(r"\baudit_(record|head|checkpoint)\b")


def test_the_migrated_audit_tables_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert [item for item in differences if AUDIT_TABLE.search(repr(item))] == []
