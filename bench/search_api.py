"""Search end to end: `GET /api/v1/search` on a running `polaris serve`, over N documents.

Run by hand (never in CI), from the repository root, with PostgreSQL on 127.0.0.1:5432:

    .venv/bin/python bench/search_api.py                       # 1,000,000 documents, both engines
    .venv/bin/python bench/search_api.py --docs 20000          # smoke test, a few minutes
    .venv/bin/python bench/search_api.py --engines tantivy --docs 10000000   # the state archive

Each engine gets an instance of its own, made as an operator would (`polaris init`: SQLite and
Tantivy; `polaris init --database-url` on a schema of its own: PostgreSQL and its search), then:
1,050 units (PHQ, 10 ranges, 50 districts, 150 sub-divisions, 839 stations) and their spaces,
2,000 officers with personal spaces, 12 folders a space, and N documents written straight into
the `node` table (the corpus of `bench/search.py`: Zipf over a mostly Hindi vocabulary; 90 % in
unit spaces, 10 % personal; classifications 80/12/6/2 %) and indexed through the engine's own
`upsert`. The callers, each with a read-scoped API token:

- *station*: a sub-inspector of one station (clearance Confidential) who reads their station's
  space and their own, plus 20 folders and 5 files of other stations shared with them;
- *HQ*: the DGP at PHQ (clearance Secret), who reads every unit space by supervisory reach.

For every caller and query kind (common word, rare word, two words, phrase; as `bench/search.py`)
it times 100 requests, one after another on one keep-alive connection, from the request to the
last byte of the JSON: caller resolution, visibility, the engine, the database check of every
match (up to 1,100), the page's nodes, highlights, the audit record and the JSON. Beside it, the
engine call alone (`search_page` without the check) in this process, on the same queries.
Progress goes to stderr, the Markdown report to stdout.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import http.client
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lib_peers import BenchError, PolarisServer, run_checked
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session

from search import (  # bench/search.py: the same corpus and queries
    CLASSIFICATIONS,
    CONTENT_TYPES,
    KINDS,
    PHRASES,
    make_vocabulary,
    percentile,
    progress,
    zipf_weights,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factories import FAST_PASSWORDS, PASSWORD

from polaris.access.policy import Classification
from polaris.audit.context import AuditContext
from polaris.config import load_settings
from polaris.db.engine import make_engine
from polaris.drive import spaces
from polaris.drive.models import Node, Share, Space
from polaris.handlers import settle
from polaris.identity import program_tokens, roles, units, users
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.identity.units import UnitKind, UnitSpec
from polaris.instance import Instance, open_instance
from polaris.search import querying
from polaris.search.indexing import engine_of
from polaris.search.interface import SearchDocument, SearchQuery, Visibility
from polaris.search.paging import search_page

SYSTEM = AuditContext.system("bench")
FOLDERS_PER_SPACE = 12
PERSONAL_SPACES = 2000
CALLERS = ("station", "HQ")
#: (kind, how many, children each): 1 + 10 + 50 + 150 + 839 = 1,050 units.
TREE = ((UnitKind.RANGE, 10), (UnitKind.DISTRICT, 5), (UnitKind.SUBDIVISION, 3))
STATIONS = 839


@dataclass
class World:
    """What the queries need: the callers' tokens, the vocabulary and phrases of the corpus."""

    data_dir: Path
    tokens: dict[str, str]
    vocabulary: list[str]
    pairs: list[str]
    docs: int


@dataclass
class Result:
    engine: str
    database: str
    setup_seconds: float = 0.0
    index_seconds: float = 0.0
    #: (caller, kind) -> seconds, end to end and the engine call alone.
    api: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    engine_alone: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    totals: dict[tuple[str, str], list[int]] = field(default_factory=dict)


# --- the instance ----------------------------------------------------------------------------


def unit_specs() -> list[UnitSpec]:
    specs = [UnitSpec("PHQ", "Police Headquarters", UnitKind.HQ, None)]
    level = ["PHQ"]
    for kind, each in TREE:
        below = []
        for parent in level:
            for n in range(each if parent != "PHQ" else 10):
                code = f"{parent}-{kind.value[:2].upper()}{n}" if parent != "PHQ" else f"R{n}"
                specs.append(UnitSpec(code, f"Unit {code}", kind, parent))
                below.append(code)
        level = below
    for n in range(STATIONS):
        parent = level[n % len(level)]
        specs.append(UnitSpec(f"{parent}-PS{n}", f"Station {n}", UnitKind.STATION, parent))
    return specs


def make_people(instance: Instance) -> tuple[dict[str, str], list[Space], list[Space], int]:
    """Units, officers, their spaces and tokens: (tokens, unit spaces, personal spaces, the
    station caller's id)."""
    defaults = spaces.space_defaults(instance.settings)
    with Session(instance.engine, expire_on_commit=False) as session, session.begin():
        roles.ensure_default_roles(session)
        made = [units.create_unit(session=session, spec=s, context=SYSTEM) for s in unit_specs()]
        unit_spaces = [spaces.ensure_unit_space(session, unit, defaults) for unit in made]
        stations = [unit for unit in made if unit.kind == UnitKind.STATION.value]
        people = []
        for n in range(PERSONAL_SPACES):
            spec = users.UserSpec(
                f"officer{n}", f"Officer {n}", stations[n % len(stations)].code, "constable",
                password=PASSWORD,
            )  # fmt: skip
            people.append(
                users.create_user(
                    session=session, spec=spec, passwords=FAST_PASSWORDS, context=SYSTEM
                ).user
            )
        personal = [spaces.ensure_user_space(session, user, defaults) for user in people]
        callers = {
            "station": users.UserSpec(
                "si.station", "Station SI", stations[7].code, "sub_inspector",
                clearance=Classification.CONFIDENTIAL, password=PASSWORD,
            ),
            "HQ": users.UserSpec(
                "dgp", "DGP", "PHQ", "hq_head", clearance=Classification.SECRET,
                password=PASSWORD,
            ),
        }  # fmt: skip
        tokens = {}
        for name, spec in callers.items():
            user = users.create_user(
                session=session, spec=spec, passwords=FAST_PASSWORDS, context=SYSTEM
            ).user
            tokens[name] = program_tokens.create_token(
                session=session, user=user, name="bench", scopes=["read"], lifetime_days=30,
                context=SYSTEM,
            ).secret  # fmt: skip
            spaces.ensure_user_space(session, user, defaults)  # not made by the first search
            if name == "station":
                station_user = user.id
    return tokens, unit_spaces, personal, station_user


def populate(instance: Instance, args: argparse.Namespace, result: Result) -> World:
    """Everything above, then the folders and documents, indexed as they are written."""
    started = time.perf_counter()
    tokens, unit_spaces, personal, station_user = make_people(instance)
    # What those changes cause (index jobs for the new spaces...) runs now, before the documents
    # are written behind the change stream's back: the server then starts idle.
    handed, ran = settle(instance)
    progress(f"{result.engine}: {handed:,} events handed over, {ran:,} jobs run")
    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(args.vocabulary, rng)
    cumulative = zipf_weights(len(vocabulary), args.zipf)
    top = cumulative[-1]
    types = [kind for kind, weight in CONTENT_TYPES for _ in range(weight)]
    levels = [level for level, weight in CLASSIFICATIONS for _ in range(weight)]
    with instance.engine.connect() as connection:
        next_id = int(connection.execute(select(func.max(Node.id))).scalar_one()) + 1
    every = unit_spaces + personal
    folders: dict[int, list[tuple[int, str]]] = {}  # space id -> (folder id, path)
    folder_rows, documents = [], []
    for space in every:
        root = f"/{space.root_id}/"
        for n in range(FOLDERS_PER_SPACE):
            name = f"{vocabulary[rng.randrange(30, 3000)]} {n}"
            folders.setdefault(space.id, []).append((next_id, f"{root}{next_id}/"))
            folder_rows.append(
                node_row(next_id, space, space.root_id, f"{root}{next_id}/", "folder", name, 0)
            )
            documents.append(document(next_id, space, (space.root_id, next_id), name, "", 0))
            next_id += 1
    write(instance, folder_rows, documents)
    result.setup_seconds += time.perf_counter() - started
    started = time.perf_counter()
    epoch = dt.datetime(2016, 1, 1, tzinfo=dt.UTC).timestamp()
    pairs: list[str] = []
    rows, documents = [], []
    random_ = rng.random
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
        space = rng.choice(unit_spaces) if random_() < 0.9 else rng.choice(personal)
        folder_id, path = rng.choice(folders[space.id])
        name = f"{words[0]} {words[-1]} {index}.pdf"
        moment = dt.datetime.fromtimestamp(epoch + random_() * 10 * 365 * 86400, dt.UTC)
        level, kind = rng.choice(levels), rng.choice(types)
        rows.append(
            node_row(next_id, space, folder_id, f"{path}{next_id}/", "file", name, level, kind,
                     moment)
        )  # fmt: skip
        documents.append(
            document(next_id, space, (space.root_id, folder_id, next_id), name, " ".join(words),
                     level, kind, moment)
        )  # fmt: skip
        next_id += 1
        if len(rows) == args.batch or index == args.docs - 1:
            write(instance, rows, documents)
            rows, documents = [], []
            rate = (index + 1) / (time.perf_counter() - started)
            progress(
                f"{result.engine}: {index + 1:,} documents written and indexed ({rate:,.0f}/s)"
            )
    share_with(instance, station_user, unit_spaces, folders, rng)
    finish(instance)
    result.index_seconds = time.perf_counter() - started
    return World(instance.settings.data_dir, tokens, vocabulary, pairs, args.docs)


def node_row(
    node_id: int, space: Space, parent: int | None, path: str, kind: str, name: str, level: int,
    content_type: str | None = None, moment: dt.datetime | None = None,
) -> dict[str, object]:  # fmt: skip
    when = moment or dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    etag = f"{node_id:032x}"
    return {
        "id": node_id, "space_id": space.id, "parent_id": parent, "path": path, "kind": kind,
        "name": name, "sort_name": name.casefold(), "classification": level, "etag": etag,
        "etag_unclassified": etag, "etag_restricted": etag, "etag_confidential": etag,
        "size": 1000 if kind == "file" else 0, "sha256": None, "content_type": content_type,
        "current_version_id": None, "created_by": space.owner_id, "created_at": when,
        "modified_at": when, "modified_at_unclassified": when, "modified_at_restricted": when,
        "modified_at_confidential": when, "trashed_at": None, "trashed_by": None,
    }  # fmt: skip


def document(
    node_id: int, space: Space, ancestors: tuple[int | None, ...], name: str, body: str,
    level: int, content_type: str | None = None, moment: dt.datetime | None = None,
) -> SearchDocument:  # fmt: skip
    return SearchDocument(
        node_id=node_id, space_id=space.id, ancestors=tuple(int(a or 0) for a in ancestors),
        name=name, text=body, content_type=content_type, classification=level,
        owner_id=space.owner_id, unit_id=space.unit_id,
        modified_at=moment or dt.datetime(2016, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip


def write(instance: Instance, rows: list[dict[str, object]], docs: list[SearchDocument]) -> None:
    with instance.engine.begin() as connection:
        connection.execute(insert(Node), rows)
    engine_of(instance).upsert(docs)


def share_with(
    instance: Instance,
    user_id: int,
    unit_spaces: list[Space],
    folders: dict[int, list[tuple[int, str]]],
    rng: random.Random,
) -> None:
    """20 folders and 5 files of other stations, shared with the station caller."""
    shared = [rng.choice(folders[rng.choice(unit_spaces).id])[0] for _ in range(20)]
    with instance.engine.begin() as connection:
        files = connection.execute(
            select(Node.id).where(Node.kind == "file").order_by(func.random()).limit(5)
        ).scalars()
        connection.execute(
            insert(Share),
            [
                {"node_id": node_id, "subject_type": "user", "subject_id": user_id,
                 "permission": "read", "include_subunits": False, "created_by": user_id,
                 "created_at": dt.datetime.now(dt.UTC)}
                for node_id in [*shared, *files]
            ],
        )  # fmt: skip


def finish(instance: Instance) -> None:
    """Statistics for the planners; PostgreSQL's id sequence past the ids written here."""
    with instance.engine.connect() as connection:
        if instance.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT setval('node_id_seq', (SELECT max(id) FROM node))"))
            connection.commit()
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()


# --- the queries -----------------------------------------------------------------------------


def make_queries(world: World, count: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed + 1)
    vocabulary = world.vocabulary
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
            rng.choice(phrases) if rng.random() < 0.5 else f'"{rng.choice(world.pairs)}"'
            for _ in range(count)
        ],
    }


def engine_alone(
    instance: Instance, world: World, queries: dict[str, list[str]], result: Result
) -> None:
    """The engine call the issue measured (`search_page`, no database check), same queries."""
    engine = engine_of(instance)
    defaults = spaces.space_defaults(instance.settings)
    for caller, username in (("station", "si.station"), ("HQ", "dgp")):
        with Session(instance.engine) as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            actor = actor_for(session=session, user=user, auth_factors="token")
            visibility: Visibility = querying.visibility_for(session, actor, defaults)
            session.rollback()
        for kind in KINDS:
            times = []
            for words in queries[kind]:
                started = time.perf_counter()
                search_page(engine, SearchQuery(words), visibility)
                times.append(time.perf_counter() - started)
            result.engine_alone[(caller, kind)] = times


def through_api(port: int, world: World, queries: dict[str, list[str]], result: Result) -> None:
    for caller in CALLERS:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {world.tokens[caller]}"}
        try:
            for warm in queries["common"][:10] + queries["rare"][:10]:
                get(connection, headers, warm)
            for kind in KINDS:
                times, totals = [], []
                for words in queries[kind]:
                    started = time.perf_counter()
                    body = get(connection, headers, words)
                    times.append(time.perf_counter() - started)
                    totals.append(int(json.loads(body)["total"]))
                result.api[(caller, kind)] = times
                result.totals[(caller, kind)] = totals
                progress(
                    f"{result.engine} {caller} {kind}: p50 {percentile(times, 50) * 1000:.1f} ms, "
                    f"p95 {percentile(times, 95) * 1000:.1f} ms (load {os.getloadavg()[0]:.1f})"
                )
        finally:
            connection.close()


def get(connection: http.client.HTTPConnection, headers: dict[str, str], words: str) -> bytes:
    connection.request(
        "GET", "/api/v1/search?" + urllib.parse.urlencode({"q": words}), headers=headers
    )
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise BenchError(f"search {words!r}: HTTP {response.status}: {body[:300]!r}")
    return body


# --- one engine ------------------------------------------------------------------------------


class Serving(PolarisServer):
    """`polaris serve` on an instance made here (not `init --demo`)."""

    def __init__(self, workdir: Path, polaris_bin: Path, data_dir: Path) -> None:
        super().__init__(workdir, polaris_bin)
        self.data_dir = data_dir

    def prepare(self) -> None:
        pass


def bench(name: str, work: Path, args: argparse.Namespace) -> Result:
    """Make the instance (unless ``--reuse`` names one made before), then time the queries."""
    data_dir = work / name
    saved = data_dir / "bench-world.json"
    result = Result("Tantivy" if name == "tantivy" else "PostgreSQL",
                    "SQLite" if name == "tantivy" else "PostgreSQL")  # fmt: skip
    schema = f"bench_search_api_{os.getpid()}"
    if args.reuse:
        world, schema = load_world(saved, args)
    else:
        make_instance(name, data_dir, schema, work, args)
    instance = open_instance(load_settings(data_dir))
    try:
        if not args.reuse:
            world = populate(instance, args, result)
            save_world(saved, world, schema)
        queries = make_queries(world, args.queries, args.seed)
        engine_alone(instance, world, queries, result)
    finally:
        instance.close()
    try:
        with Serving(work / f"{name}-serve", args.polaris_bin, data_dir) as server:
            through_api(server.port, world, queries, result)
    finally:
        if name == "postgresql" and not args.keep:
            with make_admin(args.pg_url).begin() as connection:
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    return result


def make_instance(
    name: str, data_dir: Path, schema: str, work: Path, args: argparse.Namespace
) -> None:
    """`polaris init`, on SQLite or on a PostgreSQL schema of its own."""
    init = [str(args.polaris_bin), "init", str(data_dir)]
    if name == "postgresql":
        with make_admin(args.pg_url).begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in args.pg_url else "?"
        init += ["--database-url", f"{args.pg_url}{separator}options=-csearch_path%3D{schema}"]
    run_checked(init, log=work / f"{name}-init.log")


def save_world(path: Path, world: World, schema: str) -> None:
    keep = {"tokens": world.tokens, "pairs": world.pairs, "docs": world.docs, "schema": schema}
    path.write_text(json.dumps(keep))


def load_world(path: Path, args: argparse.Namespace) -> tuple[World, str]:
    """A world saved by an earlier run with ``--keep`` (the vocabulary is made again: same seed)."""
    if not path.exists():
        raise BenchError(f"--reuse: no {path} (run once with --keep first)")
    saved = json.loads(path.read_text())
    vocabulary = make_vocabulary(args.vocabulary, random.Random(args.seed))
    world = World(path.parent, saved["tokens"], vocabulary, saved["pairs"], saved["docs"])
    args.docs = world.docs
    return world, str(saved["schema"])


def make_admin(url: str) -> Engine:
    return make_engine(url)


# --- report ----------------------------------------------------------------------------------


def report(results: list[Result], args: argparse.Namespace, took: float) -> None:
    out = print
    out(f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    out(
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; load average at "
        f"the end {', '.join(f'{load:.1f}' for load in os.getloadavg())} (1, 5, 15 min)"
    )
    argv = " ".join(sys.argv[1:])
    out(f"- command: `.venv/bin/python bench/search_api.py{' ' + argv if argv else ''}`")
    out(
        f"- {args.docs:,} documents (+ {1050 + PERSONAL_SPACES:,} × {FOLDERS_PER_SPACE} folders), "
        f"{args.queries} queries of each kind and caller, one client, `polaris serve` with one "
        f"worker; whole run {took / 60:.0f} min"
    )
    if not args.reuse:  # --reuse built nothing: no indexing figures
        out("")
        out("| engine (database) | documents written and indexed, docs/s | time |")
        out("| --- | ---: | ---: |")
        for result in results:
            out(
                f"| {result.engine} ({result.database}) | "
                f"{args.docs / result.index_seconds:,.0f} | "
                f"{(result.setup_seconds + result.index_seconds) / 60:.1f} min |"
            )
    out("")
    out("`GET /api/v1/search`, p50 / p95 in ms, end to end (goal p95 < 50 ms; ✗ missed), and in")
    out("brackets the engine call alone (`search_page` without the database check), p95:")
    out("")
    out("| engine | caller | " + " | ".join(f"{kind} p50 / p95 (engine)" for kind in KINDS) + " |")
    out("| --- | --- |" + " ---: |" * len(KINDS))
    for caller in CALLERS:
        for result in results:
            cells = []
            for kind in KINDS:
                times = result.api[(caller, kind)]
                alone = result.engine_alone[(caller, kind)]
                mark = "" if percentile(times, 95) < 0.05 else " ✗"
                cells.append(
                    f"{percentile(times, 50) * 1000:.1f} / {percentile(times, 95) * 1000:.1f}"
                    f"{mark} ({percentile(alone, 95) * 1000:.1f})"
                )
            out(f"| {result.engine} | {caller} | " + " | ".join(cells) + " |")
    out("")
    out("Mean `total` a query (what the caller may read; counted up to 1,100 matches checked):")
    out("")
    out("| engine | caller | " + " | ".join(KINDS) + " |")
    out("| --- | --- |" + " ---: |" * len(KINDS))
    for caller in CALLERS:
        for result in results:
            cells = [
                f"{sum(result.totals[(caller, kind)]) / len(result.totals[(caller, kind)]):,.0f}"
                for kind in KINDS
            ]
            out(f"| {result.engine} | {caller} | " + " | ".join(cells) + " |")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents (1,000,000)")
    parser.add_argument("--words", type=int, default=100, help="mean words a document (100)")
    parser.add_argument("--vocabulary", type=int, default=200_000, help="distinct words")
    parser.add_argument("--zipf", type=float, default=1.05, help="Zipf exponent (1.05)")
    parser.add_argument("--queries", type=int, default=100, help="queries of each kind (100)")
    parser.add_argument("--batch", type=int, default=10_000, help="documents a batch (10,000)")
    parser.add_argument("--engines", default="tantivy,postgresql", help="tantivy,postgresql")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "POLARIS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL server (a schema of its own is made and dropped)",
    )
    parser.add_argument(
        "--polaris-bin", type=Path, default=Path(sys.executable).parent / "polaris",
        help="the polaris command (default: beside this Python)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--tmp", type=Path, default=None, help="where to make the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and schema")
    parser.add_argument(
        "--reuse", type=Path, default=None,
        help="a temp dir kept by an earlier run (--keep): time the queries again, build nothing",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    work = args.reuse or Path(tempfile.mkdtemp(prefix="polaris-bench-search-api-", dir=args.tmp))
    args.keep = args.keep or args.reuse is not None
    try:
        results = [bench(name, work, args) for name in args.engines.split(",")]
        report(results, args, time.perf_counter() - began)
    finally:
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
