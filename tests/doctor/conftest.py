"""A doctor's context over the test database (rolled back after each test) and a data dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from polaris.clock import utcnow
from polaris.config import load_settings
from polaris.doctor.findings import DoctorContext, Finding, Severity


@pytest.fixture
def make_ctx(db_session: Session, tmp_path: Path) -> Callable[..., DoctorContext]:
    def make(**settings: object) -> DoctorContext:
        db_session.flush()
        reads = sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint")
        return DoctorContext(
            settings=load_settings(tmp_path, **settings), read_sessions=reads, now=utcnow()
        )

    return make


def by_id(findings: object) -> dict[str, Finding]:
    assert not isinstance(findings, str)
    return {finding.id: finding for finding in findings}  # type: ignore[attr-defined]


def severity_of(findings: object, finding_id: str) -> Severity:
    return by_id(findings)[finding_id].severity
