"""export_jsonl, query, and the filtered export (JSON lines or CSV)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json

import pytest
from sqlalchemy.orm import Session

from polaris.audit import reading
from polaris.audit import service as audit
from polaris.audit.encoding import RECORD_FIELDS, canonical_json, record_hash
from polaris.audit.keys import AuditSigner
from polaris.audit.models import AuditRecord
from tests.audit import factories as f


def test_export_writes_one_line_per_record(
    db_session: Session, ticking_clock: list[dt.datetime]
) -> None:
    records = f.append_records(db_session, 6)
    out = io.StringIO()

    count = audit.export_jsonl(session=db_session, out=out)

    lines = out.getvalue().splitlines()
    assert count == len(lines) == 6
    documents = [json.loads(line) for line in lines]
    fields = {*RECORD_FIELDS, "hash", "hash_version"}
    for document, record in zip(documents, records, strict=True):
        assert set(document) == fields
        assert (document["seq"], document["hash"]) == (record.seq, record.hash)
        assert document["at"] == record.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert document["detail"] == record.detail_value
        # A SIEM can recompute the hash from the line alone.
        hashed = document | {
            "at": dt.datetime.fromisoformat(document["at"]),
            "detail": None if record.detail is None else canonical_json(document["detail"]),
        }
        assert record_hash(hashed) == document["hash"]


def test_export_since_and_until(db_session: Session, ticking_clock: list[dt.datetime]) -> None:
    f.append_records(db_session, 6)  # at START + 0..5 minutes

    since = io.StringIO()
    until = io.StringIO()
    assert audit.export_jsonl(session=db_session, out=since, since_seq=4) == 2
    assert audit.export_jsonl(session=db_session, out=until, until=ticking_clock[2]) == 2

    assert [json.loads(line)["seq"] for line in since.getvalue().splitlines()] == [5, 6]
    assert [json.loads(line)["seq"] for line in until.getvalue().splitlines()] == [1, 2]


def test_export_streams_in_batches(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "EXPORT_BATCH_SIZE", 2)
    f.append_records(db_session, 5)
    out = io.StringIO()
    assert audit.export_jsonl(session=db_session, out=out) == 5
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [1, 2, 3, 4, 5]


def seqs(records: list[AuditRecord]) -> list[int]:
    return [record.seq for record in records]


def test_query_filters_and_pages_newest_first(
    db_session: Session, ticking_clock: list[dt.datetime]
) -> None:
    records = f.append_records(db_session, 10)  # actor = index % 4, action = ACTIONS[index % 5]

    assert seqs(audit.query(session=db_session, actor_id=1)) == [10, 6, 2]
    assert seqs(audit.query(session=db_session, actor_id="1", before_id=records[5].id)) == [2]
    assert seqs(audit.query(session=db_session, unit_id=40)) == [9, 8, 5, 4, 1]
    assert seqs(audit.query(session=db_session, action="share.create")) == [8, 3]
    assert seqs(audit.query(session=db_session, action="auth.*")) == [9, 6, 4, 1]
    assert seqs(audit.query(session=db_session, object_type="file", object_id=1003)) == [4]
    window = audit.query(session=db_session, since=ticking_clock[2], until=ticking_clock[5])
    assert seqs(window) == [5, 4, 3]
    first = audit.query(session=db_session, limit=4)
    second = audit.query(session=db_session, limit=4, before_id=first[-1].id)
    assert (seqs(first), seqs(second)) == ([10, 9, 8, 7], [6, 5, 4, 3])


def test_query_does_not_treat_underscore_as_a_wildcard(db_session: Session) -> None:
    audit.append(session=db_session, context=f.user_context(), action="auth.login.sso")
    assert [r.action for r in audit.query(session=db_session, action="auth.login.*")] == [
        "auth.login.sso"
    ]
    assert audit.query(session=db_session, action="auth_login.*") == []


def test_export_filtered_writes_the_matching_records_as_the_full_export_does(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "EXPORT_BATCH_SIZE", 2)  # several batches
    f.append_records(db_session, 10)
    full = io.StringIO()
    audit.export_jsonl(session=db_session, out=full)
    out = io.StringIO()

    count = reading.export_filtered(
        session=db_session, out=out, where=reading.RecordFilter(action="auth.*")
    )

    lines = out.getvalue().splitlines()
    assert count == len(lines) == 4
    assert [json.loads(line)["seq"] for line in lines] == [1, 4, 6, 9]  # oldest first
    assert set(lines) <= set(full.getvalue().splitlines())  # byte for byte the same lines
    nothing = io.StringIO()
    where = reading.RecordFilter(actor_id=1, action="share.create")
    assert reading.export_filtered(session=db_session, out=nothing, where=where) == 0
    assert nothing.getvalue() == ""


def test_export_filtered_as_csv_defuses_formulas(db_session: Session) -> None:
    context = f.user_context()
    hostile = dataclasses.replace(context, client="=cmd|' /C calc'!A0")
    audit.append(session=db_session, context=hostile, action="auth.login", detail={"n": 1})
    audit.append(session=db_session, context=context, action="document.read", reason="-ok")
    f.chain(db_session)
    out = io.StringIO()

    count = reading.export_filtered(
        session=db_session, out=out, where=reading.RecordFilter(), fmt="csv"
    )

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(rows) == 2
    assert list(rows[0]) == list(reading.CSV_FIELDS)
    assert rows[0]["client"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["reason"] == "'-ok"
    assert json.loads(rows[0]["detail"]) == {"n": 1} and rows[1]["detail"] == ""
    assert rows[0]["seq"] == "1" and rows[0]["at"].endswith("Z")


def test_find_takes_a_record_filter(db_session: Session) -> None:
    f.append_records(db_session, 10)
    where = reading.RecordFilter(actor_id=1)
    assert seqs(reading.find(session=db_session, where=where, limit=2)) == [10, 6]


def test_query_shows_unsealed_records_newest_first_and_export_waits_for_the_seal(
    db_session: Session,
) -> None:
    sealed = f.append_records(db_session, 2)
    waiting = f.append_records(db_session, 2, start=2, chained=False)

    found = audit.query(session=db_session)
    assert [r.id for r in found] == [r.id for r in reversed(sealed + waiting)]
    assert [r.seq for r in found] == [None, None, 2, 1]
    assert [r.id for r in audit.query(session=db_session, before_id=waiting[0].id)] == [
        r.id for r in reversed(sealed)
    ]
    out = io.StringIO()
    assert audit.export_jsonl(session=db_session, out=out) == 2  # unsealed are not exported


def test_export_carries_the_checkpoints_after_the_records_they_cover(db_session: Session) -> None:
    signer = AuditSigner.generate()
    f.append_records(db_session, 3, chained=False)
    first = audit.seal(session=db_session, signer=signer)
    f.append_records(db_session, 2, start=3, chained=False)
    second = audit.seal(session=db_session, signer=signer)
    assert first is not None and second is not None
    out = io.StringIO()

    assert audit.export_jsonl(session=db_session, out=out) == 5

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("kind", line["seq"]) for line in lines] == [
        1,
        2,
        3,
        "checkpoint",
        4,
        5,
        "checkpoint",
    ]
    assert (lines[3]["seq"], lines[3]["signature"]) == (3, first.signature)
    assert (lines[6]["prev_seq"], lines[6]["prev_hash"]) == (3, first.hash)
