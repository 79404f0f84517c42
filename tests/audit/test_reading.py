"""export_jsonl and query."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy.orm import Session

from polaris.audit import reading
from polaris.audit import service as audit
from polaris.audit.encoding import RECORD_FIELDS, canonical_json, record_hash
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
    f.append_records(db_session, 10)  # actor = index % 4, action = ACTIONS[index % 5]

    assert seqs(audit.query(session=db_session, actor_id=1)) == [10, 6, 2]
    assert seqs(audit.query(session=db_session, actor_id="1", before_seq=6)) == [2]
    assert seqs(audit.query(session=db_session, unit_id=40)) == [9, 8, 5, 4, 1]
    assert seqs(audit.query(session=db_session, action="share.create")) == [8, 3]
    assert seqs(audit.query(session=db_session, action="auth.*")) == [9, 6, 4, 1]
    assert seqs(audit.query(session=db_session, object_type="file", object_id=1003)) == [4]
    window = audit.query(session=db_session, since=ticking_clock[2], until=ticking_clock[5])
    assert seqs(window) == [5, 4, 3]
    first = audit.query(session=db_session, limit=4)
    second = audit.query(session=db_session, limit=4, before_seq=first[-1].seq)
    assert (seqs(first), seqs(second)) == ([10, 9, 8, 7], [6, 5, 4, 3])


def test_query_does_not_treat_underscore_as_a_wildcard(db_session: Session) -> None:
    audit.append(session=db_session, context=f.user_context(), action="auth.login.sso")
    assert seqs(audit.query(session=db_session, action="auth.login.*")) == [1]
    assert audit.query(session=db_session, action="auth_login.*") == []
