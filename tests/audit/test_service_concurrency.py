"""Concurrent writers and a sealer, each committing its own transactions: one gap-free chain.

Appends share no row (issue 9 point 12): on PostgreSQL a transaction that appended and has not
committed yet holds up no other append, and a record committed late is sealed in a later batch.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service as audit
from polaris.audit.keys import AuditSigner
from tests.audit import factories as f


def run_writers(
    factory: sessionmaker[Session], *, threads: int, appends: int, signer: AuditSigner
) -> None:
    start = threading.Barrier(threads + 1)
    done = threading.Event()

    def writer(number: int) -> None:
        start.wait()  # all threads begin together, so their appends really interleave
        for index in range(appends):
            with factory.begin() as session:
                audit.append(
                    session=session,
                    context=f.user_context(number),
                    action="document.read",
                    object_id=index,
                    detail={"writer": number, "index": index},
                )

    def sealer() -> None:  # seals while the writers write, as the server's sealer does
        start.wait()
        while not done.is_set():
            with factory.begin() as session:
                audit.seal(session=session, signer=signer)

    with ThreadPoolExecutor(max_workers=threads + 1) as pool:
        sealing = pool.submit(sealer)
        for result in [pool.submit(writer, number) for number in range(threads)]:
            result.result()
        done.set()
        sealing.result()
    with factory.begin() as session:
        while audit.seal(session=session, signer=signer) is not None:
            pass


def check_chain(
    factory: sessionmaker[Session], *, threads: int, appends: int, signer: AuditSigner
) -> None:
    with factory() as session:
        report = audit.verify(
            session=session,
            public_keys=[signer.public_key],
            max_unsealed_age=dt.timedelta(minutes=10),
        )
        stored = f.rows(session)
    assert report.ok, report.findings[:5]
    assert [row["seq"] for row in stored] == list(range(1, threads * appends + 1))
    assert report.head_seq == threads * appends
    assert report.checkpoints_valid >= 1
    assert Counter(row["actor_id"] for row in stored) == {
        str(number): appends for number in range(threads)
    }


def test_concurrent_writers_keep_the_chain(
    engine: Engine, committing: sessionmaker[Session], db_backend: str
) -> None:
    signer = AuditSigner.generate()
    threads, appends = (8, 50) if db_backend == "postgresql" else (4, 40)

    run_writers(committing, threads=threads, appends=appends, signer=signer)

    check_chain(committing, threads=threads, appends=appends, signer=signer)


def test_an_open_append_holds_up_neither_another_append_nor_the_sealer(
    committing: sessionmaker[Session], db_backend: str
) -> None:
    """Regression (point 12): appends used to lock the one head row until commit.

    ``lock_timeout`` turns the old wait into an error instead of a hang; nothing is timed.
    """
    if db_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time by design")
    signer = AuditSigner.generate()
    early = committing()
    early.begin()
    audit.append(session=early, context=f.user_context(1), action="document.read")
    try:
        with committing.begin() as late:
            late.execute(text("SET LOCAL lock_timeout = '5s'"))
            audit.append(session=late, context=f.user_context(2), action="document.read")
        with committing.begin() as session:
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            first = audit.seal(session=session, signer=signer)
        early.commit()
    finally:
        early.close()
    with committing.begin() as session:
        second = audit.seal(session=session, signer=signer)

    assert first is not None and second is not None
    with committing() as session:
        stored = f.rows(session)
        report = audit.verify(session=session, public_keys=[signer.public_key])
    # The late commit (actor 1, the smaller id) is sealed after the one that committed first.
    assert [(row["seq"], row["actor_id"]) for row in stored] == [(1, "2"), (2, "1")]
    assert stored[0]["id"] > stored[1]["id"]
    assert report.ok and report.checkpoints_valid == 2
