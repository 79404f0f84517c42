"""Concurrent writers, each committing its own transactions, leave one gap-free valid chain."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service as audit
from polaris.audit.keys import AuditSigner
from tests.audit import factories as f


def run_writers(
    factory: sessionmaker[Session], *, threads: int, appends: int, signer: AuditSigner
) -> None:
    start = threading.Barrier(threads)

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
                if index % 10 == 9:  # sealing competes for the same head row
                    audit.seal_if_due(session=session, signer=signer, interval=7)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in [pool.submit(writer, number) for number in range(threads)]:
            result.result()


def check_chain(
    factory: sessionmaker[Session], *, threads: int, appends: int, signer: AuditSigner
) -> None:
    with factory() as session:
        report = audit.verify(session=session, public_keys=[signer.public_key])
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
