"""``verify`` on clean chains and on every kind of tampering, each named at the right seq."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service as audit
from polaris.audit.encoding import GENESIS_HASH, checkpoint_message, record_hash
from polaris.audit.keys import AuditSigner
from polaris.audit.verify import FindingKind, VerifyReport
from tests.audit import factories as f

SIGNER = AuditSigner.generate()
INTRUDER = AuditSigner.generate()
K = FindingKind


def check(session: Session, *, batch_size: int = 3, signer: AuditSigner = SIGNER) -> VerifyReport:
    return audit.verify(session=session, public_keys=[signer.public_key], batch_size=batch_size)


def found(report: VerifyReport) -> list[tuple[FindingKind, int | None]]:
    return [(finding.kind, finding.seq) for finding in report.findings]


def test_a_fresh_chain_verifies(db_session: Session) -> None:
    f.append_records(db_session, 10)
    f.seal(db_session, SIGNER)
    f.append_records(db_session, 2, start=10)
    calls: list[tuple[int, int]] = []

    report = audit.verify(
        session=db_session,
        public_keys=[SIGNER.public_key],
        progress=lambda done, total: calls.append((done, total)),
        batch_size=4,
    )

    assert report.ok, report.findings
    assert (report.records, report.last_seq, report.head_seq) == (12, 12, 12)
    assert (report.checkpoints, report.checkpoints_valid) == (1, 1)
    assert report.last_valid_checkpoint_seq == 10
    assert calls == [(4, 12), (8, 12), (12, 12)]


def test_an_empty_log_verifies(db_session: Session) -> None:
    report = check(db_session)
    assert report.ok
    assert (report.records, report.head_seq) == (0, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor_name", "someone else"),
        ("actor_id", None),
        ("action", "document.list"),
        ("decision", "allow"),
        ("object_id", "999"),
        ("classification", "unclassified"),
        ("detail", '{"n":4}'),
        ("client", ""),
        ("at", dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
        ("hash_version", 2),
    ],
)
def test_an_edited_field_is_found_at_its_record(
    db_session: Session, field: str, value: object
) -> None:
    f.append_records(db_session, 8)
    f.set_fields(db_session, 5, **{field: value})
    assert found(check(db_session)) == [(K.ALTERED, 5)]


def test_a_microsecond_shift_of_the_time_is_found(db_session: Session) -> None:
    records = f.append_records(db_session, 4)
    f.set_fields(db_session, 2, at=records[1].at + dt.timedelta(microseconds=1))
    assert found(check(db_session)) == [(K.ALTERED, 2)]


def test_a_time_that_is_not_a_timestamp_is_found(db_session: Session, db_backend: str) -> None:
    if db_backend != "sqlite":
        pytest.skip("only SQLite lets text into a timestamp column")
    f.append_records(db_session, 4)
    db_session.execute(text("UPDATE audit_record SET at = 'yesterday' WHERE seq = 3"))
    assert found(check(db_session)) == [(K.ALTERED, 3)]


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(db_session: Session) -> None:
    f.append_records(db_session, 8)
    edited = f.row(db_session, 4) | {"actor_name": "someone else"}
    f.set_fields(db_session, 4, actor_name="someone else", hash=record_hash(edited))
    assert found(check(db_session)) == [(K.BROKEN_LINK, 5)]


def test_a_rewritten_chain_is_caught_by_the_checkpoint(db_session: Session) -> None:
    f.append_records(db_session, 6)
    f.seal(db_session, SIGNER)
    f.append_records(db_session, 2, start=6)
    f.set_fields(db_session, 4, actor_name="someone else")
    f.rehash_from(db_session, 4)  # every later hash and the head, as a careful intruder would

    report = check(db_session)

    assert found(report) == [(K.CHECKPOINT_MISMATCH, 6)]
    assert report.last_valid_checkpoint_seq is None


def test_a_rewrite_after_the_newest_checkpoint_is_out_of_reach(db_session: Session) -> None:
    """The documented limit: past the newest checkpoint only the head row and the SIEM copy
    protect the chain, so an intruder who rewrites both there is not seen by ``verify``."""
    f.append_records(db_session, 6)
    f.seal(db_session, SIGNER)
    f.append_records(db_session, 2, start=6)
    f.set_fields(db_session, 7, actor_name="someone else")
    f.rehash_from(db_session, 7)

    report = check(db_session)

    assert report.ok
    assert report.last_valid_checkpoint_seq == 6


@pytest.mark.parametrize(("first", "last"), [(5, 5), (1, 1), (4, 6)])
def test_deleted_records_are_found(db_session: Session, first: int, last: int) -> None:
    f.append_records(db_session, 8)
    f.delete_records(db_session, first=first, last=last)
    report = check(db_session)
    assert found(report) == [(K.MISSING, first)]
    assert f"{first}–{last}" in report.findings[0].message or first == last


def test_a_deletion_hidden_by_renumbering_is_found(db_session: Session) -> None:
    f.append_records(db_session, 8)
    f.delete_records(db_session, first=5, last=5)
    f.shift_seqs(db_session, first=6, by=-1)
    assert found(check(db_session)) == [(K.MISSING, 5), (K.TRUNCATED, 8)]


def test_a_record_appended_behind_the_logs_back_is_found(db_session: Session) -> None:
    f.append_records(db_session, 8)
    f.insert_record(db_session, f.forged_values(9, f.row(db_session, 8)["hash"]))
    assert found(check(db_session)) == [(K.BEYOND_HEAD, 9)]


def test_a_record_inserted_in_the_middle_is_found(db_session: Session) -> None:
    f.append_records(db_session, 8)
    f.shift_seqs(db_session, first=4, by=1)
    f.insert_record(db_session, f.forged_values(4, f.row(db_session, 3)["hash"]))

    report = check(db_session)

    assert found(report)[0] == (K.INSERTED, 4)
    assert {kind for kind, _ in found(report)} == {K.INSERTED, K.BEYOND_HEAD, K.HEAD_MISMATCH}


def test_an_inserted_record_with_rehashed_successors_is_found(db_session: Session) -> None:
    f.append_records(db_session, 6)
    f.shift_seqs(db_session, first=4, by=1)
    f.insert_record(db_session, f.forged_values(4, f.row(db_session, 3)["hash"]))
    for seq in range(5, 8):  # each moved record rehashed under its new seq, links kept
        f.set_fields(db_session, seq, hash=record_hash(f.row(db_session, seq)))
    assert found(check(db_session))[0] == (K.INSERTED, 4)


def test_a_record_before_the_start_is_found(db_session: Session) -> None:
    f.append_records(db_session, 3)
    f.insert_record(db_session, f.forged_values(0, GENESIS_HASH))
    assert found(check(db_session)) == [(K.INSERTED, 0)]


@pytest.mark.parametrize("first", [1, 4, 7])
def test_two_swapped_neighbours_are_found(db_session: Session, first: int) -> None:
    f.append_records(db_session, 8)
    f.swap(db_session, first, first + 1)
    report = check(db_session)
    assert found(report)[0] == (K.REORDERED, first)
    assert found(report)[1:] == ([(K.HEAD_MISMATCH, 8)] if first == 7 else [])


def test_two_distant_swapped_records_are_found(db_session: Session) -> None:
    f.append_records(db_session, 8)
    f.swap(db_session, 3, 6)
    assert found(check(db_session)) == [(K.ALTERED, 3), (K.ALTERED, 6)]


def test_a_cut_tail_is_found_from_the_head(db_session: Session) -> None:
    f.append_records(db_session, 8)
    f.delete_records(db_session, first=6)
    assert found(check(db_session)) == [(K.TRUNCATED, 6)]


def test_a_cut_tail_with_a_rewound_head_is_found_from_the_checkpoint(db_session: Session) -> None:
    f.append_records(db_session, 8)
    f.seal(db_session, SIGNER)
    f.delete_records(db_session, first=6)
    f.set_head(db_session, seq=5, hash=f.row(db_session, 5)["hash"])
    assert found(check(db_session)) == [(K.TRUNCATED, 6)]


def test_a_missing_head_is_found(db_session: Session) -> None:
    f.append_records(db_session, 3)
    db_session.execute(delete(f.HEAD))
    assert found(check(db_session)) == [(K.HEAD_MISSING, None)]


def test_a_head_with_another_hash_is_found(db_session: Session) -> None:
    f.append_records(db_session, 3)
    f.set_head(db_session, seq=3, hash=f.flip(f.row(db_session, 3)["hash"]))
    assert found(check(db_session)) == [(K.HEAD_MISMATCH, 3)]


@pytest.mark.parametrize(
    "change",
    [
        {"hash": "a" * 64},
        {"at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
        {"signature": "00" * 64},
        {"signature": "not hex"},
        {"seq": 5},
    ],
)
def test_an_altered_checkpoint_is_found(db_session: Session, change: dict[str, object]) -> None:
    f.append_records(db_session, 6)
    f.seal(db_session, SIGNER)
    db_session.execute(f.CHECKPOINT.update().values(**change))
    assert found(check(db_session)) == [(K.CHECKPOINT_FORGED, change.get("seq", 6))]


def test_a_checkpoint_signed_by_another_key_is_found(db_session: Session) -> None:
    f.append_records(db_session, 6)
    f.seal(db_session, SIGNER)
    f.append_records(db_session, 2, start=6)
    head = f.row(db_session, 8)
    at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    claimed = checkpoint_message(seq=8, hash=head["hash"], at=at, key_id=SIGNER.key_id)
    db_session.execute(
        f.CHECKPOINT.insert().values(
            seq=8,
            hash=head["hash"],
            at=at,
            key_id=SIGNER.key_id,
            signature=INTRUDER.sign(claimed).hex(),
        )
    )
    assert found(check(db_session)) == [(K.CHECKPOINT_FORGED, 8)]


def test_a_checkpoint_by_an_untrusted_key_is_found(db_session: Session) -> None:
    f.append_records(db_session, 6)
    f.seal(db_session, INTRUDER)
    assert found(check(db_session)) == [(K.CHECKPOINT_UNKNOWN_KEY, 6)]


def test_verifying_with_the_wrong_public_key_flags_every_checkpoint(db_session: Session) -> None:
    f.append_records(db_session, 3)
    f.seal(db_session, SIGNER)
    f.append_records(db_session, 3, start=3)
    f.seal(db_session, SIGNER)

    report = check(db_session, signer=INTRUDER)

    assert found(report) == [(K.CHECKPOINT_UNKNOWN_KEY, 3), (K.CHECKPOINT_UNKNOWN_KEY, 6)]
    assert report.checkpoints_valid == 0


def test_findings_beyond_the_limit_are_counted(db_session: Session) -> None:
    f.append_records(db_session, 8)
    for seq in (2, 4, 6, 8):
        f.set_fields(db_session, seq, actor_name="x")

    report = audit.verify(session=db_session, public_keys=[], max_findings=2)

    assert found(report) == [(K.ALTERED, 2), (K.ALTERED, 4)]
    assert report.findings_omitted == 2
    assert not report.ok


def test_appends_committed_during_a_walk_are_not_tampering(
    committing: sessionmaker[Session], db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("a SQLite transaction holds the write lock, so nothing commits meanwhile")
    with committing.begin() as session:
        f.append_records(session, 6)
        f.seal(session, SIGNER)
    appended: list[int] = []

    def append_meanwhile(done: int, total: int) -> None:
        if not appended:
            with committing.begin() as other:
                appended.extend(record.seq for record in f.append_records(other, 4, start=6))
                f.seal(other, SIGNER)

    with committing() as session:
        report = audit.verify(
            session=session,
            public_keys=[SIGNER.public_key],
            progress=append_meanwhile,
            batch_size=4,
        )

    assert appended == [7, 8, 9, 10]
    assert report.ok, report.findings
    assert (report.last_seq, report.head_seq, report.checkpoints_valid) == (10, 10, 2)
