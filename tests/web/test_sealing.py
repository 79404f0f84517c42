"""Checkpoints sealed by the server verify against the instance's public key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sqlalchemy import delete, update

from polaris.audit import anchor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditCheckpoint, AuditHead, AuditRecord
from polaris.instance import Instance
from polaris.web.sealing import seal_once


def test_seal_when_due_and_on_force(seeded: Instance) -> None:
    assert seal_once(seeded, force=False) is None  # fewer records than the interval
    sealed = seal_once(seeded, force=True)
    assert sealed is not None and sealed > 0
    assert seal_once(seeded, force=True) is None  # nothing new to seal
    session = seeded.sessions()
    try:
        report = audit.verify(session=session, public_keys=[seeded.audit_signer.public_key])
    finally:
        session.close()
    assert report.ok and report.checkpoints_valid == 1


def test_each_new_checkpoint_is_anchored_outside_the_database(
    seeded: Instance, tmp_path: Path
) -> None:
    """Regression (issue 9): the sealer appends every checkpoint to the anchor file, and
    ``verify`` with that file finds the log cut back behind the database's back."""
    anchor_file = tmp_path / "anchor" / "audit-anchor.jsonl"
    anchor_file.parent.mkdir()
    instance = dataclasses.replace(
        seeded,
        settings=seeded.settings.model_copy(
            update={"audit_anchor_file": anchor_file, "audit_checkpoint_interval": 2}
        ),
    )
    first = seal_once(instance, force=True)
    assert first is not None
    make_user_records(instance, 2)
    second = seal_once(instance, force=False)  # due: two records wait
    assert second is not None and second > first
    lines = [json.loads(line) for line in anchor_file.read_text(encoding="utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [first, second]
    assert lines[1]["prev_seq"] == first

    session = instance.sessions()
    try:
        session.execute(delete(AuditRecord).where(AuditRecord.seq > first))
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > first))
        session.execute(update(AuditHead).values(seq=first, hash=lines[0]["hash"]))
        report = audit.verify(
            session=session,
            public_keys=[instance.audit_signer.public_key],
            anchored=anchor.read_anchor(anchor_file),
        )
    finally:
        session.rollback()
        session.close()
    assert [(f.kind.value, f.seq) for f in report.findings] == [("anchor_missing", second)]


def make_user_records(instance: Instance, count: int) -> None:
    session = instance.sessions()
    for n in range(count):
        audit.append(
            session=session, context=AuditContext.system(), action="test.event", object_id=n
        )
    session.commit()
    session.close()
