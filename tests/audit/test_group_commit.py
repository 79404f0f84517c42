"""Stand-alone audit records (a download's ``file.read``) appended through a ``GroupCommit``, a
unit of work each (``instance.audit_commits``): committed on return, one transaction for the
records that arrive together, a record refused (by ``append`` or by the database) failing only
its own caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import repo, service
from polaris.audit.models import AuditRecord
from polaris.db.group_commit import GroupCommit
from polaris.errors import AuditUnavailable
from tests.audit import factories as f
from tests.db.holding import run_as_one_batch

THREADS = 6


def records(factory: sessionmaker[Session], action: str) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditRecord).where(AuditRecord.action == action)
            )
            or 0
        )


def appending(fields: Mapping[str, Any]) -> Callable[[Session], None]:
    """A stand-alone record's unit, as ``drive.reads.CheckedRead.audit`` appends it."""
    return lambda session: service.append(session=session, **fields)


def append(group: GroupCommit, **fields: Any) -> None:
    group.run(appending(fields))


def test_each_append_is_committed_on_return(committing: sessionmaker[Session]) -> None:
    group = GroupCommit(committing)
    seen: list[int] = []

    def read(number: int) -> None:
        append(group, context=f.user_context(number), action="file.read", object_id=number)
        seen.append(records(committing, "file.read"))  # visible to a fresh session already

    with ThreadPoolExecutor(THREADS) as pool:
        for result in [pool.submit(read, n) for n in range(THREADS * 5)]:
            result.result()
    assert records(committing, "file.read") == THREADS * 5
    assert min(seen) >= 1


def test_records_that_arrive_together_share_one_transaction(
    committing: sessionmaker[Session], engine: Engine
) -> None:
    group = GroupCommit(committing)
    calls = [
        {"context": f.user_context(n), "action": "file.read", "object_id": n}
        for n in range(THREADS)
    ]
    futures, begun = run_as_one_batch(engine, group, [appending(c) for c in calls])
    for future in futures:
        future.result()
    assert records(committing, "file.read") == THREADS
    assert len(begun) == 2  # the leader's own record, then every follower's at once
    assert group.batch_sizes[-2:] == [1, THREADS - 1]


def test_a_refused_record_fails_only_its_own_caller(
    committing: sessionmaker[Session], engine: Engine
) -> None:
    group = GroupCommit(committing)
    calls = [
        {"context": f.user_context(n), "action": "file.read", "object_id": n}
        for n in range(THREADS)
    ]
    calls[3]["decision"] = "maybe"  # refused by ``append``
    futures, _begun = run_as_one_batch(engine, group, [appending(c) for c in calls])
    outcomes = [future.exception() for future in futures]
    assert isinstance(outcomes[3], ValueError)
    assert [o for n, o in enumerate(outcomes) if n != 3] == [None] * (THREADS - 1)
    assert records(committing, "file.read") == THREADS - 1
    assert group.waiting() == 0


def test_an_error_reaches_a_lone_caller(committing: sessionmaker[Session]) -> None:
    group = GroupCommit(committing)
    with pytest.raises(ValueError):
        append(group, context=f.user_context(1), action="")
    append(group, context=f.user_context(1), action="file.read")  # the group goes on
    assert records(committing, "file.read") == 1


def test_a_record_the_database_refuses_fails_only_its_own_caller(
    committing: sessionmaker[Session], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refuses one record of a batch: ``append`` rolls back the whole session (not
    only the record's savepoint) and raises ``AuditUnavailable``. Its caller gets that error; every
    other record is committed for real before its caller returns (the batch runs again, each
    record alone), none reported written on the strength of a rolled-back transaction."""
    insert_record = repo.insert_record

    def refusing(session: Session, values: Mapping[str, Any]) -> int:
        if values["object_id"] == "3":
            session.execute(text("INSERT INTO no_such_table VALUES (1)"))
        return insert_record(session, values)

    monkeypatch.setattr(repo, "insert_record", refusing)
    group = GroupCommit(committing)
    calls = [
        {"context": f.user_context(n), "action": "file.read", "object_id": n}
        for n in range(THREADS)
    ]
    futures, _begun = run_as_one_batch(engine, group, [appending(c) for c in calls])
    outcomes = [future.exception() for future in futures]
    assert isinstance(outcomes[3], AuditUnavailable)
    assert [o for n, o in enumerate(outcomes) if n != 3] == [None] * (THREADS - 1)
    assert records(committing, "file.read") == THREADS - 1
    assert group.waiting() == 0
