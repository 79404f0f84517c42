"""Regressions of issue 9 point 9: ``verify`` no longer passes once checkpoints are cut.

Each test builds a log as the server keeps it (records appended, then sealed in batches, each
seal writing a chained checkpoint), tampers with it the way an intruder with SQL access would,
and runs ``verify`` as ``polaris audit verify`` does: with the sealing interval and grace
(``max_unsealed_age``) and, where said, the anchor file the sealer wrote.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from polaris import clock
from polaris.audit import anchor
from polaris.audit import service as audit
from polaris.audit.keys import AuditSigner
from polaris.audit.models import AuditCheckpoint
from polaris.audit.verify import FindingKind, VerifyReport
from tests.audit import factories as f

SIGNER = AuditSigner.generate()
K = FindingKind
AGE = dt.timedelta(minutes=10)  # sealing interval + grace, as the settings give by default


def build(session: Session, batches: int = 3, size: int = 4) -> list[AuditCheckpoint]:
    """``batches`` seals of ``size`` records each."""
    checkpoints = []
    for batch in range(batches):
        f.append_records(session, size, start=batch * size, chained=False)
        checkpoint = audit.seal(session=session, signer=SIGNER)
        assert checkpoint is not None
        checkpoints.append(checkpoint)
    return checkpoints


def check(
    session: Session,
    anchored: list[dict[str, object]] | None = None,
    *,
    later: dt.timedelta = dt.timedelta(hours=1),
) -> VerifyReport:
    """``verify`` as the CLI runs it, ``later`` after the records were written."""
    now = clock.utcnow() + later
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "utcnow", lambda: now)
        return audit.verify(
            session=session,
            public_keys=[SIGNER.public_key],
            max_unsealed_age=AGE,
            anchored=anchored,
        )


def kinds(report: VerifyReport) -> set[FindingKind]:
    return {finding.kind for finding in report.findings}


def test_an_intact_sealed_log_verifies(db_session: Session) -> None:
    build(db_session)
    report = check(db_session)
    assert report.ok, report.findings
    assert (report.records, report.checkpoints_valid) == (12, 3)


def test_deleting_every_checkpoint_fails(db_session: Session) -> None:
    build(db_session)
    db_session.execute(delete(AuditCheckpoint))
    report = check(db_session)
    assert not report.ok
    assert K.UNCOVERED in kinds(report)


def test_deleting_a_checkpoint_in_the_middle_fails(db_session: Session) -> None:
    build(db_session)
    db_session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == 8))
    assert [(x.kind, x.seq) for x in check(db_session).findings] == [(K.CHECKPOINT_MISSING, 8)]


def test_deleting_the_newest_checkpoint_fails(db_session: Session) -> None:
    build(db_session)
    db_session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == 12))
    assert K.UNCOVERED in kinds(check(db_session))


def test_checkpoints_gone_and_an_edit_rehashed_fails(db_session: Session) -> None:
    build(db_session)
    db_session.execute(delete(AuditCheckpoint))
    f.set_fields(db_session, 5, actor_name="someone else")
    f.rehash_from(db_session, 5)
    assert K.UNCOVERED in kinds(check(db_session))


def test_checkpoints_gone_and_a_record_deleted_and_renumbered_fails(db_session: Session) -> None:
    build(db_session)
    db_session.execute(delete(AuditCheckpoint))
    f.delete_records(db_session, first=6, last=6)
    f.shift_seqs(db_session, first=7, by=-1)
    f.rehash_from(db_session, 6)
    assert K.UNCOVERED in kinds(check(db_session))


def test_an_edit_rehashed_after_the_newest_checkpoint_fails(db_session: Session) -> None:
    """Sealed records after the newest checkpoint cannot exist: each seal writes one."""
    build(db_session)
    f.append_records(db_session, 2, start=12)  # chained as an intruder would, no checkpoint
    assert K.UNCOVERED in kinds(check(db_session))


def test_unsealed_records_older_than_the_interval_fail(db_session: Session) -> None:
    build(db_session)
    f.append_records(db_session, 2, start=12, chained=False)
    assert check(db_session, later=dt.timedelta(0)).ok  # fresh: the sealer has not run yet
    assert K.UNCOVERED in kinds(check(db_session))


def test_cutting_the_tail_is_caught_by_the_anchor(db_session: Session, tmp_path: Path) -> None:
    checkpoints = build(db_session)
    path = tmp_path / "anchor.jsonl"
    for row in db_session.query(AuditCheckpoint).order_by(AuditCheckpoint.seq):
        anchor.publish(row, path)
    assert check(db_session, list(anchor.read_anchor(path))).ok
    # The intruder cuts records 9-12, their checkpoint and moves the head back.
    f.delete_records(db_session, first=9)
    db_session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == 12))
    f.set_head(db_session, seq=checkpoints[1].seq, hash=checkpoints[1].hash)
    assert check(db_session).ok  # the database alone cannot tell

    report = check(db_session, list(anchor.read_anchor(path)))

    assert [(x.kind, x.seq) for x in report.findings] == [(K.ANCHOR_MISSING, 12)]


def test_a_rewritten_checkpoint_differs_from_the_anchor_and_an_export_anchors_too(
    db_session: Session,
) -> None:
    build(db_session)
    out = io.StringIO()
    audit.export_jsonl(session=db_session, out=out)
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    anchored = [line for line in exported if line.get("kind") == "checkpoint"]
    assert len(anchored) == 3
    db_session.execute(
        update(AuditCheckpoint).where(AuditCheckpoint.seq == 4).values(signature="00" * 64)
    )
    assert (K.ANCHOR_MISMATCH, 4) in [(x.kind, x.seq) for x in check(db_session, anchored).findings]


def test_an_anchor_file_that_is_not_json_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "anchor.jsonl"
    path.write_text('{"kind": "checkpoint", "seq": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(anchor.AnchorError):
        list(anchor.read_anchor(path))


def test_a_configured_anchor_file_that_is_gone_is_a_finding(
    db_session: Session, tmp_path: Path
) -> None:
    build(db_session)
    path = tmp_path / "anchor.jsonl"
    for row in db_session.query(AuditCheckpoint).order_by(AuditCheckpoint.seq):
        anchor.publish(row, path)

    def verify_with_file() -> VerifyReport:
        return audit.verify(session=db_session, public_keys=[SIGNER.public_key], anchor_file=path)

    assert verify_with_file().ok and verify_with_file().anchored == 3
    # The intruder who cuts the tail removes the copy outside too: that must not pass as "ok".
    path.unlink()
    assert kinds(verify_with_file()) == {K.ANCHOR_FILE_MISSING}
