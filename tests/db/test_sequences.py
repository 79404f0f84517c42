"""Rows inserted with their lost ids (a recovery), then ordinary inserts: on PostgreSQL the id
sequence must be moved past them, or the next insert collides; on SQLite nothing is needed."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from polaris.db.sequences import follow_explicit_ids
from polaris.identity.models import Unit


def test_an_ordinary_insert_follows_explicit_ids(db_session: Session) -> None:
    db_session.add(Unit(id=50, code="OLD-50", name="kept id", kind="hq"))
    db_session.flush()
    follow_explicit_ids(db_session, ["unit"])
    fresh = Unit(code="NEW", name="new", kind="hq")
    db_session.add(fresh)
    db_session.flush()
    assert fresh.id == 51


def test_only_table_names_are_accepted(db_session: Session) -> None:
    with pytest.raises(ValueError, match="not a table name"):
        follow_explicit_ids(db_session, ["unit; DROP TABLE unit"])
