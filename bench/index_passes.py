"""Index jobs one at a time beside passes: wall time, CPU and commits for N small uploads.

Run by hand (never in CI), from the repository root:

    PYTHONPATH=src:. .venv/bin/python bench/index_passes.py [--files 2000] [--kib 16]

It uploads N files of ``--kib`` KiB through the API of a test instance (SQLite, Tantivy),
records their text as the text job would (extraction is not timed; other jobs are dropped), then
times the ``search.index`` jobs twice over the same
nodes, the index emptied before each: one job a pass (what every upload cost before passes: a
Tantivy commit, a claim and a record transaction each) and passes of ``PASS_JOBS``. Each run
queues one index job a node, as the change stream's consumer does. Markdown to stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete
from tests.drive.conftest import Drive, drive_on

from polaris import events, jobs
from polaris.db.engine import make_engine
from polaris.db.migrate import upgrade
from polaris.drive.models import Node
from polaris.handlers import load_consumers, load_job_handlers
from polaris.ingest import text_service
from polaris.ingest.extract import Extracted
from polaris.jobs import service as job_service
from polaris.jobs.models import Job
from polaris.search import indexing, requests
from polaris.search.interface import SearchQuery, Visibility
from polaris.search.tantivy_engine import TantivySearchEngine

WORDS = ["report", "district", "station", "witness", "theft", "चोरी", "रिपोर्ट", "थाना", "गवाह"]


def text_of(kib: int, rng: random.Random) -> bytes:
    words: list[str] = []
    size = 0
    while size < kib * 1024:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word.encode()) + 1
    return " ".join(words).encode()[: kib * 1024]


def record_texts(drive: Drive, node_ids: list[int], kib: int, rng: random.Random) -> None:
    """Each file's extracted text, as the text job would record it (extraction is not timed)."""
    with drive.instance.sessions() as session, session.begin():
        for node_id in node_ids:
            node = session.get(Node, node_id)
            assert node is not None and node.current_version_id is not None
            text = text_of(kib, rng).decode(errors="ignore")
            text_service.record_text(
                session,
                version_id=node.current_version_id,
                extracted=Extracted(text=text, method="text"),
            )


def run(drive: Drive, node_ids: list[int], size: int) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and commits to index ``node_ids`` in passes of ``size``."""
    engine = indexing.engine_of(drive.instance)
    assert isinstance(engine, TantivySearchEngine)
    engine.clear()
    with drive.instance.sessions() as session, session.begin():
        session.execute(delete(Job).where(Job.kind != requests.INDEX_JOB))  # text, previews
        for node_id in node_ids:
            requests.request_index(session, node_id)
    function = job_service._BATCH_HANDLERS[requests.INDEX_JOB][0]
    job_service._BATCH_HANDLERS[requests.INDEX_JOB] = (function, size)
    commits = engine.commits
    wall, cpu = time.perf_counter(), time.process_time()
    jobs.run_pending(drive.instance)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    job_service._BATCH_HANDLERS[requests.INDEX_JOB] = (function, indexing.PASS_JOBS)
    assert engine.count() >= len(node_ids)
    return wall, cpu, engine.commits - commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--kib", type=int, default=16)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rng = random.Random(12)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        fixture = drive_on(engine, Path(tmp))
        drive = next(fixture)
        load_job_handlers()
        load_consumers()
        folder = drive.folder("hc.a1", drive.root("hc.a1"), "Bench")["id"]
        print(f"uploading {args.files} × {args.kib} KiB", file=sys.stderr)
        node_ids = [
            int(drive.upload("hc.a1", folder, f"note {n}.bin", b"\x00" * 64)["id"])
            for n in range(args.files)
        ]
        record_texts(drive, node_ids, args.kib, rng)
        events.drain(drive.instance.sessions)
        rows = []
        for label, size in [("one job a pass (before)", 1), ("passes", indexing.PASS_JOBS)]:
            print(f"indexing: {label}", file=sys.stderr)
            rows.append((label, size, *run(drive, node_ids, size)))
        space = int(drive.space("hc.a1")["id"])  # type: ignore[call-overload]
        seen = Visibility(frozenset({space}), frozenset(), max_classification=3)
        found = indexing.engine_of(drive.instance).matches(SearchQuery(text="note"), seen, 5000)
        assert len(found.node_ids) == args.files
        next(fixture, None)
    cpus = os.cpu_count()
    print(f"{args.files} uploads of {args.kib} KiB of text, SQLite + Tantivy, {cpus} CPUs")
    print()
    print("| indexing | jobs a pass | wall s | CPU s | CPU ms a document | commits |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, size, wall, cpu, commits in rows:
        per = cpu / args.files * 1000
        print(f"| {label} | {size} | {wall:.2f} | {cpu:.2f} | {per:.1f} | {commits} |")
    before, after = rows[0][3], rows[1][3]
    print()
    print(f"CPU ratio before/after: {before / after:.1f}×")


if __name__ == "__main__":
    main()
