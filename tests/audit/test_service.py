"""append and seal, and the failure contract of append."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, registry, sessionmaker

from polaris.audit import service as audit
from polaris.audit.encoding import (
    GENESIS_HASH,
    HASH_VERSION,
    record_hash,
)
from polaris.audit.keys import AuditSigner
from polaris.audit.models import AuditCheckpoint
from polaris.audit.sealing import SealRefused
from polaris.errors import AuditUnavailable, IntegrityError
from tests.audit import factories as f
from tests.audit.conftest import widget

SIGNER = AuditSigner.generate()


class Widget:
    """The caller's ORM object (mapped onto the scratch table)."""

    def __init__(self, *, id: int, name: str) -> None:
        self.id = id
        self.name = name


registry().map_imperatively(Widget, widget)


def test_append_builds_a_gap_free_linked_chain(db_session: Session) -> None:
    records = f.append_records(db_session, 5)

    stored = f.rows(db_session)
    assert [row["seq"] for row in stored] == [1, 2, 3, 4, 5]
    assert stored[0]["prev_hash"] == GENESIS_HASH
    for previous, row in itertools.pairwise(stored):
        assert row["prev_hash"] == previous["hash"]
    for row in stored:
        assert row["hash"] == record_hash(row)
        assert row["hash_version"] == HASH_VERSION
    assert [record.hash for record in records] == [row["hash"] for row in stored]


def test_append_stores_every_field(db_session: Session, ticking_clock: list[dt.datetime]) -> None:
    record = audit.append(
        session=db_session,
        context=f.user_context(3),
        action="document.read",
        object_type="file",
        object_id=42,
        version_hash="cd" * 32,
        classification="secret",
        decision="deny",
        reason="clearance",
        detail={"path": "/केस/FIR 12.pdf", "size": 10},
    )

    f.chain(db_session)
    stored = f.row(db_session, 1)
    assert stored["id"] == record.id
    assert stored["at"] == ticking_clock[0]
    assert (stored["actor_id"], stored["unit_id"], stored["object_id"]) == ("3", "40", "42")
    assert stored["session_hash"] == audit.hash_session_id("session-3")
    assert stored["decision"] == "deny"
    assert json.loads(stored["detail"]) == {"path": "/केस/FIR 12.pdf", "size": 10}
    assert record.detail_value == {"path": "/केस/FIR 12.pdf", "size": 10}


def test_the_contexts_for_system_and_anonymous_work(db_session: Session) -> None:
    system = audit.append(
        session=db_session, context=audit.AuditContext.system("cli:root"), action="audit.export"
    )
    anonymous = audit.append(
        session=db_session,
        context=audit.AuditContext.anonymous("203.0.113.9", "curl/8", "r-1"),
        action="auth.login_failed",
        decision="deny",
        reason="unknown_user",
    )
    assert (system.actor_name, system.actor_role, system.actor_id) == ("cli:root", "system", None)
    assert (anonymous.source_address, anonymous.client, anonymous.actor_id) == (
        "203.0.113.9",
        "curl/8",
        None,
    )


@pytest.mark.parametrize(
    "call",
    [
        {"decision": "maybe"},
        {"action": ""},
        {"detail": {"new_password": "hunter2"}},
        {"detail": {"nested": [{"API_Token": "x"}]}},
        {"detail": {"ratio": float("nan")}},
        {"detail": {"blob": b"bytes"}},
        {"detail": {"text": "x" * 5000}},
        {"object_id": "x" * 129},
        {"object_type": "file\x00"},
    ],
)
def test_a_malformed_append_is_refused(db_session: Session, call: dict[str, object]) -> None:
    arguments: dict[str, object] = {"action": "document.read", **call}
    with pytest.raises(ValueError):
        audit.append(session=db_session, context=f.user_context(), **arguments)  # type: ignore[arg-type]
    assert f.rows(db_session) == []


def test_outside_free_text_is_clipped_not_refused(db_session: Session) -> None:
    context = audit.AuditContext(client="Agent\x00/" + "z" * 600, actor_name="e\u0301")
    record = audit.append(session=db_session, context=context, action="auth.login_failed")
    assert record.client is not None
    assert len(record.client) == 512
    assert "\x00" not in record.client
    assert record.actor_name == "\u00e9"  # NFC
    assert audit.verify(session=db_session, public_keys=[]).ok


def test_a_missing_table_fails_the_append_and_the_callers_work(db_session: Session) -> None:
    db_session.execute(widget.insert().values(name="case file"))
    db_session.execute(text("ALTER TABLE audit_record RENAME TO audit_record_gone"))

    with pytest.raises(AuditUnavailable):
        audit.append(session=db_session, context=f.user_context(), action="document.update")

    assert db_session.execute(select(func.count()).select_from(widget)).scalar_one() == 0
    assert f.rows(db_session) == []  # the rename was rolled back with the rest


def test_the_callers_own_flush_error_is_not_blamed_on_the_log(db_session: Session) -> None:
    db_session.execute(widget.insert().values(id=5, name="first"))
    db_session.add(Widget(id=5, name="duplicate"))

    with pytest.raises(sqlalchemy.exc.IntegrityError):
        audit.append(session=db_session, context=f.user_context(), action="document.update")


def test_a_database_error_fails_the_append_and_nothing_commits(
    committing: sessionmaker[Session],
) -> None:
    with committing.begin() as session:
        f.append_records(session, 2)
    with committing.begin() as session:  # the table the append writes to is gone
        session.execute(text("ALTER TABLE audit_record RENAME TO audit_record_gone"))
    session = committing()
    session.execute(widget.insert().values(name="case file"))
    try:
        with pytest.raises(AuditUnavailable):
            audit.append(session=session, context=f.user_context(), action="document.update")
        session.commit()  # a caller that swallowed the error still commits nothing
        session.close()
    finally:
        with committing.begin() as restore:
            restore.execute(text("ALTER TABLE audit_record_gone RENAME TO audit_record"))

    with committing() as check:
        assert check.execute(select(func.count()).select_from(widget)).scalar_one() == 0
        assert [row["seq"] for row in f.rows(check)] == [1, 2]
        assert audit.verify(session=check, public_keys=[]).ok


def test_append_touches_no_shared_row_and_seal_chains_in_id_order(db_session: Session) -> None:
    """An append only inserts; the sealer gives seq, hashes and a checkpoint, in id order."""
    records = f.append_records(db_session, 3, chained=False)
    assert [r.seq for r in records] == [None, None, None]
    assert [r.hash for r in records] == [None, None, None]
    assert db_session.execute(select(func.count()).select_from(f.HEAD)).scalar_one() == 0

    checkpoint = audit.seal(session=db_session, signer=SIGNER)

    assert checkpoint is not None and checkpoint.seq == 3
    stored = f.rows(db_session)
    assert [row["seq"] for row in stored] == [1, 2, 3]
    assert [row["id"] for row in stored] == sorted(r.id for r in records)
    assert (checkpoint.version, checkpoint.prev_seq) == (2, 0)
    assert audit.verify(session=db_session, public_keys=[SIGNER.public_key]).ok


def test_seal_signs_the_head_once(db_session: Session) -> None:
    assert audit.seal(session=db_session, signer=SIGNER) is None  # nothing to seal yet
    f.append_records(db_session, 3, chained=False)

    checkpoint = audit.seal(session=db_session, signer=SIGNER)

    assert checkpoint is not None
    assert (checkpoint.seq, checkpoint.hash, checkpoint.key_id) == (
        3,
        f.row(db_session, 3)["hash"],
        SIGNER.key_id,
    )
    assert audit.seal(session=db_session, signer=SIGNER) is None
    f.append_records(db_session, 2, start=3, chained=False)
    second = audit.seal(session=db_session, signer=SIGNER)
    assert second is not None
    assert (second.seq, second.prev_seq, second.prev_hash) == (5, 3, checkpoint.hash)
    report = audit.verify(session=db_session, public_keys=[SIGNER.public_key])
    assert report.ok
    assert report.checkpoints_valid == 2


def test_seal_if_due_waits_for_the_interval(db_session: Session) -> None:
    assert audit.seal_if_due(session=db_session, signer=SIGNER, interval=3) is None
    f.append_records(db_session, 2, chained=False)
    assert audit.seal_if_due(session=db_session, signer=SIGNER, interval=3) is None
    f.append_records(db_session, 1, start=2, chained=False)
    first = audit.seal_if_due(session=db_session, signer=SIGNER, interval=3)
    f.append_records(db_session, 2, start=3, chained=False)
    assert audit.seal_if_due(session=db_session, signer=SIGNER, interval=3) is None
    f.append_records(db_session, 1, start=5, chained=False)
    second = audit.seal_if_due(session=db_session, signer=SIGNER, interval=3)

    assert (first and first.seq, second and second.seq) == (3, 6)
    with pytest.raises(ValueError):
        audit.seal_if_due(session=db_session, signer=SIGNER, interval=0)


def test_a_database_error_fails_the_seal(db_session: Session) -> None:
    f.append_records(db_session, 2, chained=False)
    db_session.execute(text("ALTER TABLE audit_checkpoint RENAME TO audit_checkpoint_gone"))
    with pytest.raises(AuditUnavailable):
        audit.seal(session=db_session, signer=SIGNER)
    assert f.rows(db_session) == []  # the session was rolled back


def test_seal_refuses_a_head_that_does_not_match_its_record(db_session: Session) -> None:
    f.append_records(db_session, 3, chained=False)
    f.seal(db_session, SIGNER)
    f.set_fields(db_session, 3, actor_name="someone else")
    f.append_records(db_session, 1, start=3, chained=False)
    with pytest.raises(IntegrityError):
        audit.seal(session=db_session, signer=SIGNER)
    assert db_session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar_one() == 1


def test_seal_refuses_to_sign_over_deleted_checkpoints(db_session: Session) -> None:
    """Regression (issue 9): with its checkpoints deleted, the chain is not re-signed."""
    f.append_records(db_session, 3, chained=False)
    f.seal(db_session, SIGNER)
    f.append_records(db_session, 2, start=3, chained=False)
    f.seal(db_session, SIGNER)
    db_session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == 5))
    f.append_records(db_session, 1, start=5, chained=False)

    with pytest.raises(SealRefused):
        audit.seal(session=db_session, signer=SIGNER)
    db_session.execute(delete(AuditCheckpoint))
    with pytest.raises(SealRefused):
        audit.seal(session=db_session, signer=SIGNER)
    adopted = audit.seal(session=db_session, signer=SIGNER, adopt=True)  # the operator's call
    assert adopted is not None and adopted.seq == 6
