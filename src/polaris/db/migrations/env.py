"""Alembic environment: the engine comes from ``polaris.db.migrate``, never from a URL in a file;
the tables from the composition root (``polaris.tables``), since ``db`` knows no domain."""

from __future__ import annotations

from alembic import context

from polaris.tables import metadata

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
