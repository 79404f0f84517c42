from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from polaris.admin.verification import record_cli_run
from polaris.audit.models import AuditRecord
from polaris.doctor import verifies
from polaris.doctor.findings import DoctorContext, Severity
from tests.doctor.conftest import by_id
from tests.factories import SYSTEM


def test_never_run_is_a_warning(make_ctx: Callable[..., DoctorContext]) -> None:
    found = by_id(verifies.check(make_ctx()))
    assert found["verify.storage"].severity is Severity.WARNING
    assert found["verify.audit"].value == "never run"


def test_a_recent_clean_run_passes_an_old_one_warns_and_problems_are_critical(
    db_session: Session, make_ctx: Callable[..., DoctorContext]
) -> None:
    record_cli_run(session=db_session, context=SYSTEM, check="storage", detail={"ok": True})
    record_cli_run(session=db_session, context=SYSTEM, check="audit", detail={"ok": False})
    found = by_id(verifies.check(make_ctx()))
    assert found["verify.storage"].severity is Severity.OK
    assert found["verify.audit"].severity is Severity.CRITICAL
    assert "found problems" in found["verify.audit"].value
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    db_session.execute(
        update(AuditRecord).where(AuditRecord.action == "storage.verify").values(at=long_ago)
    )
    found = by_id(verifies.check(make_ctx()))
    assert found["verify.storage"].severity is Severity.WARNING
    assert "40 days ago" in found["verify.storage"].value
