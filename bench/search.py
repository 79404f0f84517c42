"""Full-text search: Tantivy and PostgreSQL (Polaris's engines) beside SQLite FTS5, one corpus.

Run by hand (never in CI), from the repository root, with PostgreSQL on 127.0.0.1:5432:

    .venv/bin/python bench/search.py                      # 1,000,000 documents (about an hour)
    .venv/bin/python bench/search.py --docs 20000         # smoke test, a minute

It writes N synthetic documents once (Zipf over a generated Hindi + English vocabulary, mostly
Hindi; folders in ~1,050 unit spaces and 2,000 personal ones; classifications), indexes the same
documents into each engine in batches and reports the index rate, then runs common-term,
rare-term, AND and phrase queries with the authorisation filter on, as a station officer (50 unit
spaces, their own, 20 shared folders and 5 shared files; clearance Confidential) and as HQ (every
unit space), and reports p50/p95 latency. A query's time is the whole `search` call: matching,
authorisation, ranking, the total count, 20 hits with highlights and a snippet each. SQLite FTS5
(tokenizer `unicode61 categories 'L* N* Co M*'`) gets the same authorisation as a join, and the
same Python highlighter. Progress goes to stderr, the Markdown report to stdout.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from sqlalchemy import text as sql

from polaris.db.engine import make_engine
from polaris.db.migrate import upgrade
from polaris.search.highlight import highlight, snippet
from polaris.search.interface import (
    SearchDocument,
    SearchEngine,
    SearchHit,
    SearchPage,
    SearchQuery,
    Visibility,
)
from polaris.search.paging import search_page
from polaris.search.postgres_engine import PostgresSearchEngine
from polaris.search.query import parse
from polaris.search.tantivy_engine import TantivySearchEngine
from polaris.search.text import nfc

UNIT_SPACES = 1050
PERSONAL_SPACES = 2000
FOLDERS_PER_SPACE = 12
FIRST_DOC_ID = 10_000_000
KINDS = ("common", "rare", "AND", "phrase")
CONTENT_TYPES = (
    ("application/pdf", 60),
    ("image/tiff", 25),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", 10),
    ("text/plain", 5),
)
CLASSIFICATIONS = ((0, 80), (1, 12), (2, 6), (3, 2))


def _words(line: str) -> list[str]:
    return line.split()


# Real words take the top ranks (function words first), generated words the long tail.
HINDI_TOP = _words(
    "के में की है और से को का पर यह एक ने भी नहीं तथा थाना द्वारा गया किया हुई जांच रिपोर्ट "
    "प्रथम सूचना पुलिस अधीक्षक निरीक्षक उप आरोपी मामला अपराध धारा चोरी मोबाइल वाहन गिरफ्तार "
    "दर्ज शिकायतकर्ता गवाह बयान न्यायालय आदेश परिपत्र जिला अनुभाग दिनांक समय स्थान घटना "
    "क़ानून ज़िला फ़रार साक्ष्य विवेचना अभियुक्त प्रकरण कार्यवाही"
)
ENGLISH_TOP = _words(
    "the of and to in a is for on by with report police station case FIR diary investigation "
    "accused complaint order circular district officer inspector arrest vehicle theft court "
    "witness statement section BNS evidence"
)
PHRASES = ("प्रथम सूचना रिपोर्ट", "case diary", "पुलिस अधीक्षक", "मोबाइल चोरी")
CONSONANTS = "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह"
MATRAS = ("", "", "ा", "ि", "ी", "ु", "ू", "े", "ै", "ो", "ौ", "ं")
VIRAMA = "्"
NUKTA = "़"


def progress(*parts: object) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, file=sys.stderr, flush=True)


# --- the corpus -------------------------------------------------------------------------------


def make_vocabulary(size: int, rng: random.Random) -> list[str]:
    """Real words first, then generated Hindi (3 in 4) and English words, all distinct."""
    words: list[str] = []
    seen: set[str] = set()

    def add(word: str) -> None:
        if word not in seen:
            seen.add(word)
            words.append(word)

    for hindi, english in zip(HINDI_TOP, ENGLISH_TOP + [""] * len(HINDI_TOP), strict=False):
        add(hindi)
        if english and len(words) % 3 == 0:
            add(english)
    for english in ENGLISH_TOP:
        add(english)
    while len(words) < size:
        add(_hindi_word(rng) if rng.random() < 0.75 else _english_word(rng))
    return words


def _hindi_word(rng: random.Random) -> str:
    syllables = []
    for _ in range(rng.choice((2, 2, 3, 3, 3, 4))):
        syllable = rng.choice(CONSONANTS)
        if rng.random() < 0.03:
            syllable += NUKTA
        if rng.random() < 0.12:
            syllable += VIRAMA + rng.choice(CONSONANTS)
        syllables.append(syllable + rng.choice(MATRAS))
    return "".join(syllables)


def _english_word(rng: random.Random) -> str:
    return "".join(
        rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 5))
    )


def zipf_weights(size: int, exponent: float) -> list[float]:
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1.0 / rank**exponent
        cumulative.append(total)
    return cumulative


@dataclass
class Corpus:
    path: Path
    docs: int
    vocabulary: list[str]
    #: Two words that stood next to each other in some document, for phrase queries.
    pairs: list[str]
    station: Visibility
    hq: Visibility


def write_corpus(path: Path, args: argparse.Namespace) -> Corpus:
    """One line a document: node, space, folder, classification, type, owner, unit, time, name,
    text (tab-separated; the text holds no tab or newline)."""
    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(args.vocabulary, rng)
    cumulative = zipf_weights(len(vocabulary), args.zipf)
    top = cumulative[-1]
    types = [kind for kind, weight in CONTENT_TYPES for _ in range(weight)]
    levels = [level for level, weight in CLASSIFICATIONS for _ in range(weight)]
    start = dt.datetime(2016, 1, 1, tzinfo=dt.UTC).timestamp()
    pairs: list[str] = []
    random_ = rng.random
    with path.open("w", encoding="utf-8") as out:
        for index in range(args.docs):
            length = max(3, int(args.words * (0.3 + 1.4 * random_())))
            words = [vocabulary[bisect.bisect(cumulative, random_() * top)] for _ in range(length)]
            if random_() < 0.03:
                at = rng.randrange(len(words))
                words[at:at] = rng.choice(PHRASES).split()
            if index % 997 == 0 and len(pairs) < 400:
                at = rng.randrange(len(words) - 1)
                pairs.append(f"{words[at]} {words[at + 1]}")
            for at in range(12, len(words), 13):
                words[at] += "।"
            if random_() < 0.9:
                space = rng.randint(1, UNIT_SPACES)
                owner, unit = 0, space
            else:
                space = UNIT_SPACES + rng.randint(1, PERSONAL_SPACES)
                owner, unit = space, 0
            folder = _folder_id(space, rng.randrange(FOLDERS_PER_SPACE))
            name = f"{words[0]} {words[-1]} {index}.pdf"
            moment = int(start + random_() * 10 * 365 * 86400)
            fields = (
                FIRST_DOC_ID + index,
                space,
                folder,
                rng.choice(levels),
                rng.choice(types),
                owner,
                unit,
                moment,
                name.replace("\t", " "),
                " ".join(words),
            )
            out.write("\t".join(map(str, fields)) + "\n")
            if index and index % 100_000 == 0:
                progress(f"corpus: {index:,} documents")
    station_spaces = frozenset(rng.sample(range(1, UNIT_SPACES + 1), 50)) | {UNIT_SPACES + 1}
    shared_folders = {
        _folder_id(rng.randint(1, UNIT_SPACES), rng.randrange(FOLDERS_PER_SPACE)) for _ in range(20)
    }
    shared_files = {FIRST_DOC_ID + rng.randrange(args.docs) for _ in range(5)}
    station = Visibility(station_spaces, frozenset(shared_folders | shared_files), 2)
    hq = Visibility(frozenset(range(1, UNIT_SPACES + 1)), frozenset(), 3)
    return Corpus(path, args.docs, vocabulary, pairs, station, hq)


def _folder_id(space: int, index: int) -> int:
    return 100_000 + space * FOLDERS_PER_SPACE + index


@dataclass(frozen=True)
class Row:
    node_id: int
    space_id: int
    folder_id: int
    classification: int
    content_type: str
    owner_id: int
    unit_id: int
    modified_at: int
    name: str
    text: str

    def document(self) -> SearchDocument:
        return SearchDocument(
            node_id=self.node_id,
            space_id=self.space_id,
            ancestors=(self.space_id, self.folder_id, self.node_id),
            name=self.name,
            text=self.text,
            content_type=self.content_type,
            classification=self.classification,
            owner_id=self.owner_id or None,
            unit_id=self.unit_id or None,
            modified_at=dt.datetime.fromtimestamp(self.modified_at, dt.UTC),
        )


def read_rows(corpus: Corpus, batch: int) -> Iterator[list[Row]]:
    rows: list[Row] = []
    with corpus.path.open(encoding="utf-8") as source:
        for line in source:
            node, space, folder, level, kind, owner, unit, moment, name, body = line.rstrip(
                "\n"
            ).split("\t")
            rows.append(
                Row(
                    int(node),
                    int(space),
                    int(folder),
                    int(level),
                    kind,
                    int(owner),
                    int(unit),
                    int(moment),
                    name,
                    body,
                )
            )
            if len(rows) == batch:
                yield rows
                rows = []
    if rows:
        yield rows


# --- the queries ------------------------------------------------------------------------------


def make_queries(corpus: Corpus, count: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed + 1)
    vocabulary = corpus.vocabulary
    rare_from = min(len(vocabulary) // 5, 20_000)
    phrases = [f'"{phrase}"' for phrase in PHRASES]
    return {
        "common": [rng.choice(vocabulary[2:30]) for _ in range(count)],
        "rare": [rng.choice(vocabulary[rare_from:]) for _ in range(count)],
        "AND": [
            f"{rng.choice(vocabulary[30:3000])} {rng.choice(vocabulary[30:3000])}"
            for _ in range(count)
        ],
        "phrase": [
            rng.choice(phrases) if rng.random() < 0.5 else f'"{rng.choice(corpus.pairs)}"'
            for _ in range(count)
        ],
    }


# --- engines ----------------------------------------------------------------------------------


class Fts5:
    """The peer: SQLite FTS5 with marks in its tokenizer, authorisation by a join."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-262144")
        self.db.execute(
            "CREATE TABLE doc (node_id INTEGER PRIMARY KEY, space_id INT, folder_id INT, "
            "classification INT, modified_at INT)"
        )
        self.db.execute("CREATE INDEX ix_doc_space ON doc (space_id)")
        self.db.execute("CREATE INDEX ix_doc_folder ON doc (folder_id)")
        self.db.execute(
            "CREATE VIRTUAL TABLE fts USING fts5(name, text, "
            "tokenize = \"unicode61 categories 'L* N* Co M*'\")"
        )

    def add(self, rows: Sequence[Row]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO doc VALUES (?, ?, ?, ?, ?)",
            [(r.node_id, r.space_id, r.folder_id, r.classification, r.modified_at) for r in rows],
        )
        # NFC, as Polaris does at every boundary (the queries' words are NFC).
        self.db.executemany(
            "INSERT INTO fts (rowid, name, text) VALUES (?, ?, ?)",
            [(r.node_id, nfc(r.name), nfc(r.text)) for r in rows],
        )
        self.db.execute("COMMIT")

    def finish(self) -> None:
        self.db.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        self.db.execute("ANALYZE")

    def search(self, query: SearchQuery, visibility: Visibility) -> SearchPage:
        clauses = parse(query.text)
        match = " AND ".join(
            '"' + " ".join(clause.words) + '"' + ("*" if clause.prefix else "")
            for clause in clauses
        )
        spaces = ",".join(map(str, sorted(visibility.space_ids))) or "NULL"
        shared = ",".join(map(str, sorted(visibility.shared_roots))) or "NULL"
        rows = self.db.execute(
            "SELECT f.rowid, f.score, count(*) OVER () FROM "
            "(SELECT rowid, bm25(fts, 2.0, 1.0) AS score FROM fts WHERE fts MATCH ?) AS f "
            "JOIN doc ON doc.node_id = f.rowid "
            f"WHERE (doc.space_id IN ({spaces}) OR doc.folder_id IN ({shared}) "
            f"OR doc.node_id IN ({shared})) AND doc.classification <= ? "
            "ORDER BY f.score LIMIT ? OFFSET ?",
            (match, visibility.max_classification, query.limit, query.offset),
        ).fetchall()
        hits = []
        for node_id, _score, _ in rows:
            name, body = self.db.execute(
                "SELECT name, text FROM fts WHERE rowid = ?", (node_id,)
            ).fetchone()
            hits.append(SearchHit(node_id, highlight(name, clauses), snippet(body, clauses)))
        return SearchPage(tuple(hits), rows[0][2] if rows else 0, query.offset, query.limit)


@dataclass
class Result:
    engine: str
    index_seconds: float = 0.0
    size_bytes: int = 0
    #: (profile, kind) -> latencies in seconds, and the totals found (with their exactness).
    latency: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    found: dict[tuple[str, str], list[tuple[int, bool]]] = field(default_factory=dict)


def index_engine(
    name: str, add: Callable[[list[Row]], None], corpus: Corpus, batch: int, result: Result
) -> None:
    started = time.perf_counter()
    done = 0
    for rows in read_rows(corpus, batch):
        add(rows)
        done += len(rows)
        if done % (batch * 10) == 0 or done == corpus.docs:
            rate = done / (time.perf_counter() - started)
            progress(f"{name}: indexed {done:,} ({rate:,.0f} docs/s)")
    result.index_seconds += time.perf_counter() - started


def run_queries(
    name: str,
    search: Callable[[SearchQuery, Visibility], SearchPage],
    corpus: Corpus,
    queries: dict[str, list[str]],
    result: Result,
) -> None:
    for profile, visibility in (("station", corpus.station), ("HQ", corpus.hq)):
        for warm in queries["common"][:10] + queries["rare"][:10]:
            search(SearchQuery(warm), visibility)
        for kind in KINDS:
            times, found = [], []
            for text in queries[kind]:
                started = time.perf_counter()
                page = search(SearchQuery(text), visibility)
                times.append(time.perf_counter() - started)
                found.append((page.total, page.total_exact))
            result.latency[(profile, kind)] = times
            result.found[(profile, kind)] = found
            progress(
                f"{name} {profile} {kind}: p50 {percentile(times, 50) * 1000:.1f} ms, "
                f"p95 {percentile(times, 95) * 1000:.1f} ms (load {os.getloadavg()[0]:.1f})"
            )


def bench_tantivy(corpus: Corpus, work: Path, args: argparse.Namespace) -> Result:
    result = Result("Tantivy")
    engine = TantivySearchEngine(work / "tantivy", writer_heap_bytes=args.tantivy_heap_mib << 20)
    index_engine(
        "tantivy",
        lambda rows: engine.upsert([row.document() for row in rows]),
        corpus,
        args.batch,
        result,
    )
    result.size_bytes = directory_size(work / "tantivy")
    run_queries(
        "tantivy",
        partial(search_page, engine),
        corpus,
        make_queries(corpus, args.queries, args.seed),
        result,
    )
    return result


def bench_postgresql(corpus: Corpus, work: Path, args: argparse.Namespace) -> Result:
    result = Result("PostgreSQL")
    schema = f"bench_search_{os.getpid()}"
    admin = make_engine(args.pg_url)
    with admin.begin() as connection:
        connection.execute(sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sql(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in args.pg_url else "?"
    db = make_engine(f"{args.pg_url}{separator}options=-csearch_path%3D{schema}")
    try:
        upgrade(db)
        engine: SearchEngine = PostgresSearchEngine(db)
        index_engine(
            "postgresql",
            lambda rows: engine.upsert([row.document() for row in rows]),
            corpus,
            args.batch,
            result,
        )
        started = time.perf_counter()
        with db.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                sql("VACUUM ANALYZE search_entry")
            )
            result.size_bytes = int(
                connection.execute(
                    sql("SELECT pg_total_relation_size('search_entry')")
                ).scalar_one()
            )
        result.index_seconds += time.perf_counter() - started
        progress(f"postgresql: vacuum analyze {time.perf_counter() - started:.0f} s")
        run_queries(
            "postgresql",
            partial(search_page, engine),
            corpus,
            make_queries(corpus, args.queries, args.seed),
            result,
        )
    finally:
        db.dispose()
        if not args.keep:
            with admin.begin() as connection:
                connection.execute(sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
    return result


def bench_fts5(corpus: Corpus, work: Path, args: argparse.Namespace) -> Result:
    result = Result("SQLite FTS5")
    engine = Fts5(work / "fts5.db")
    index_engine("fts5", engine.add, corpus, args.batch, result)
    started = time.perf_counter()
    engine.finish()
    result.index_seconds += time.perf_counter() - started
    result.size_bytes = sum(path.stat().st_size for path in work.glob("fts5.db*") if path.is_file())
    run_queries(
        "fts5", engine.search, corpus, make_queries(corpus, args.queries, args.seed), result
    )
    return result


# --- report -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def directory_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def report(results: list[Result], corpus: Corpus, args: argparse.Namespace, took: float) -> None:
    out = print
    out(f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    out(
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; load average at the end "
        f"{', '.join(f'{load:.1f}' for load in os.getloadavg())} (1, 5, 15 min)"
    )
    argv = " ".join(sys.argv[1:])
    out(f"- command: `.venv/bin/python bench/search.py{' ' + argv if argv else ''}`")
    out(
        f"- corpus: {corpus.docs:,} documents, {args.words} words on average (0.3–1.7×), "
        f"Zipf s = {args.zipf} over {len(corpus.vocabulary):,} words (3/4 Hindi); "
        f"{args.queries} queries of each kind; whole run {took / 60:.0f} min"
    )
    out(
        f"- station officer: {len(corpus.station.space_ids)} spaces, "
        f"{len(corpus.station.shared_roots)} shared folders and files, clearance 2; "
        f"HQ: {len(corpus.hq.space_ids):,} unit spaces, clearance 3"
    )
    out("")
    out("| engine | index docs/s | index time | size on disk |")
    out("| --- | ---: | ---: | ---: |")
    for result in results:
        out(
            f"| {result.engine} | {corpus.docs / result.index_seconds:,.0f} | "
            f"{result.index_seconds / 60:.1f} min | {result.size_bytes / 2**30:.2f} GiB |"
        )
    out("")
    out("Latency of one `search` call, p50 / p95 in ms (goal p95 < 50 ms; ✗ missed):")
    out("")
    header = " | ".join(f"{kind} p50 / p95" for kind in KINDS)
    out(f"| engine | user | {header} |")
    out("| --- | --- |" + " ---: |" * len(KINDS))
    for profile in ("station", "HQ"):
        for result in results:
            cells = []
            for kind in KINDS:
                times = result.latency[(profile, kind)]
                mark = "" if percentile(times, 95) < 0.05 else " ✗"
                cells.append(
                    f"{percentile(times, 50) * 1000:.1f} / {percentile(times, 95) * 1000:.1f}{mark}"
                )
            out(f"| {result.engine} | {profile} | " + " | ".join(cells) + " |")
    out("")
    out("Mean matches a query (visible ones), and the queries whose total was capped:")
    out("")
    out("| engine | user | " + " | ".join(f"{kind}: found" for kind in KINDS) + " |")
    out("| --- | --- |" + " ---: |" * len(KINDS))
    for profile in ("station", "HQ"):
        for result in results:
            cells = []
            for kind in KINDS:
                found = result.found[(profile, kind)]
                capped = sum(1 for _, exact in found if not exact)
                mean = statistics.mean(total for total, _ in found)
                cells.append(f"{mean:,.0f}" + (f" ({capped} capped)" if capped else ""))
            out(f"| {result.engine} | {profile} | " + " | ".join(cells) + " |")
    out("")
    for result in results[1:]:
        differ = sum(
            1
            for key, found in results[0].found.items()
            for (mine, _), (theirs, exact) in zip(found, result.found[key], strict=True)
            if mine != theirs and (exact or theirs > mine)
        )
        out(
            f"Queries whose (uncapped) total differs, {results[0].engine} vs {result.engine}: "
            f"{differ}."
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents (1,000,000)")
    parser.add_argument("--words", type=int, default=100, help="mean words a document (100)")
    parser.add_argument("--vocabulary", type=int, default=200_000, help="distinct words")
    parser.add_argument("--zipf", type=float, default=1.05, help="Zipf exponent (1.05)")
    parser.add_argument("--queries", type=int, default=100, help="queries of each kind (100)")
    parser.add_argument("--batch", type=int, default=10_000, help="documents a batch (10,000)")
    parser.add_argument(
        "--engines", default="tantivy,postgresql,fts5", help="a subset of tantivy,postgresql,fts5"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "POLARIS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL server (a schema of its own is made and dropped)",
    )
    parser.add_argument("--tantivy-heap-mib", type=int, default=128, help="writer heap (128)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and schema")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="polaris-bench-search-", dir=args.tmp))
    try:
        progress(f"writing {args.docs:,} documents to {work}")
        corpus = write_corpus(work / "corpus.tsv", args)
        progress(f"corpus ready in {time.perf_counter() - began:.0f} s")
        benches = {"tantivy": bench_tantivy, "postgresql": bench_postgresql, "fts5": bench_fts5}
        results = [benches[name](corpus, work, args) for name in args.engines.split(",")]
        report(results, corpus, args, time.perf_counter() - began)
    finally:
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
