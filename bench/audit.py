"""Audited requests per second: concurrent transactions that each append one audit record.

Service level, against PostgreSQL: ``--clients`` threads (16), each running transactions that
append one audit record (``audit.service.append``, what every audited request does) and commit,
for ``--seconds`` each round, in a throwaway schema created (``polaris.db.migrate.upgrade``) and
dropped by the run. Where the code has a sealer (``polaris.audit.sealing``), a sealer thread
runs beside the clients as the server's does (every ``--seal-every`` seconds) and the chain is
verified at the end, so the figure includes sealing.

The same file runs against older code: point ``PYTHONPATH`` at another checkout's ``src``
(``git worktree add /tmp/audit-before 8e28a40``; ``PYTHONPATH=/tmp/audit-before/src``), which is
how the "before" figure in ``docs/performance.md`` is made.

    PYTHONPATH=src .venv/bin/python bench/audit.py [--clients 16] [--processes 1] [--seconds 10]
        [--rounds 3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Progress goes to stderr, a Markdown table row to stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import statistics
import sys
import threading
import time
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.db import make_engine, make_session_factory
from polaris.db.migrate import upgrade

DEFAULT_URL = os.environ.get(
    "POLARIS_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _schema_engine(url: str, schema: str, connections: int) -> Any:
    """An engine on ``schema`` with a connection for every client (the server's default pool,
    15, would make the clients queue in the pool rather than in the database)."""
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return create_engine(scoped, pool_size=connections, max_overflow=0)


def _context(number: int) -> AuditContext:
    return AuditContext(
        actor_id=number,
        actor_name=f"officer{number}",
        actor_role="constable",
        unit_id=40 + number % 3,
        auth_factors="password+totp",
        session_hash="ab" * 32,
        source_address="10.0.0.5",
        client="bench/audit.py",
        request_id=f"req-{number}",
    )


def run_round(factory: Any, clients: int, seconds: float) -> int:
    """Transactions committed by ``clients`` threads in ``seconds``."""
    start = threading.Barrier(clients + 1)
    stop = threading.Event()
    counts = [0] * clients
    failures: list[BaseException] = []

    def client(number: int) -> None:
        context = _context(number)
        start.wait()
        try:
            while not stop.is_set():
                with factory.begin() as session:
                    audit.append(
                        session=session,
                        context=context,
                        action="document.read",
                        object_type="file",
                        object_id=counts[number],
                        classification="restricted",
                    )
                counts[number] += 1
        except BaseException as error:  # reported after the round
            failures.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(counts)


def _process_round(url: str, schema: str, clients: int, seconds: float) -> int:
    """One process's share of a round (its own engine: nothing crosses the fork)."""
    engine = _schema_engine(url, schema, clients + 1)
    try:
        return run_round(make_session_factory(engine), clients, seconds)
    finally:
        engine.dispose()


def run_processes(url: str, schema: str, clients: int, processes: int, seconds: float) -> int:
    """``clients`` spread over ``processes`` (as over a server's worker processes), so that one
    interpreter's lock does not cap the rate; the records committed by all."""
    shares = [
        clients // processes + (1 if n < clients % processes else 0) for n in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = [
            pool.apply_async(_process_round, (url, schema, share, seconds)) for share in shares
        ]
        return sum(result.get() for result in results)


def sealer_thread(factory: Any, every: float, stop: threading.Event) -> threading.Thread | None:
    """A sealer as the server runs one, when the code has one (the old code sealed in appends)."""
    if importlib.util.find_spec("polaris.audit.sealing") is None:
        return None
    from polaris.audit.keys import AuditSigner

    signer = AuditSigner.generate()

    def run() -> None:
        while not stop.wait(every):
            while True:
                with factory.begin() as session:
                    if audit.seal(session=session, signer=signer) is None:
                        break

    thread = threading.Thread(target=run, name="bench-sealer", daemon=True)
    thread.signer = signer  # type: ignore[attr-defined]
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seal-every", type=float, default=1.0)
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--processes", type=int, default=1, help="spread the clients over this many processes"
    )
    args = parser.parse_args()

    schema = f"bench_audit_{os.getpid()}"
    admin = make_engine(args.database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = _schema_engine(args.database_url, schema, args.clients + 2)
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        stop = threading.Event()
        sealer = sealer_thread(factory, args.seal_every, stop)
        rates = []
        for number in range(args.rounds):
            if args.processes > 1:
                done = run_processes(
                    args.database_url, schema, args.clients, args.processes, args.seconds
                )
            else:
                done = run_round(factory, args.clients, args.seconds)
            rates.append(done / args.seconds)
            print(f"round {number + 1}: {done} records, {rates[-1]:.0f}/s", file=sys.stderr)
        stop.set()
        verdict = "n/a"
        if sealer is not None:
            sealer.join()
            with factory.begin() as session:
                while audit.seal(session=session, signer=sealer.signer) is not None:  # type: ignore[attr-defined]
                    pass
            with factory() as session:
                report = audit.verify(session=session, public_keys=[sealer.signer.public_key])  # type: ignore[attr-defined]
            verdict = f"ok, {report.records} records" if report.ok else "FAILED"
        print(f"verify: {verdict}", file=sys.stderr)
        label = args.label or "this checkout"
        print(
            f"| {label} | {args.clients} | {args.processes} | {statistics.median(rates):,.0f} | "
            f"{min(rates):,.0f}–{max(rates):,.0f} | {verdict} |"
        )
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
