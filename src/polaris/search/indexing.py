"""The index job: documents from drive (names, places, levels) and ingest (text) into the engine.

Importing this module registers the handlers (``search.index``, ``search.reindex``).

Upgrades. An index built with other terms than this Polaris makes (``text.TERMS_VERSION``: the
folding, the keys) would miss what a query now asks for, so every worker, as it starts
(``handlers.schedule_periodic``), calls :func:`ensure_current`: when the engine's terms version
differs, it queues one keyed ``search.reindex`` job, which rebuilds the whole index from the
database and then records the version. Searches keep being answered meanwhile (from the old
terms on PostgreSQL; from a growing index on Tantivy, whose old format is emptied on open).
``polaris search reindex`` does the same by hand. The engine is opened once per process and kept on
the instance (the Tantivy engine holds its index open).

Jobs are run in passes (``jobs.batch_handler``): a worker takes up to :data:`PASS_JOBS` due index
jobs at once, reads every node they name in one read snapshot, and writes the lot with one
:meth:`SearchEngine.write` (one Tantivy commit, one PostgreSQL transaction), committing early only
when the texts it holds pass :data:`PASS_TEXT_BYTES`. One upload used to cost its own commit
(~114 ms of CPU, two thirds of it the commit and the merges it starts) and two write
transactions of the queue; a pass of 200 costs one commit and two queue transactions in all.

Why this is exactly-once enough:

* Every job reads the node *as it is now* and the engine keys documents by node id (a write
  replaces what was indexed under the id), so running a job again, after a crash between the
  engine's commit and the queue recording the outcome, writes the same entries again.
* One snapshot for the pass: a node named by several jobs of the pass (its own upload, a move of
  its folder) is read once, in one state; ``write`` gets each node either live or gone. A change
  committed after the snapshot queues a new job (a claimed job's key is cleared), which a later
  pass runs, so the later change wins.
* A job whose payload cannot be read, or whose document the engine refuses (node ids and
  reasons are recorded in the job's ``error``), fails alone and permanently: the rest of the
  pass commits. A failure of the read or of the commit itself fails the pass, and every job of
  it is retried after the queue's backoff.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from polaris import jobs
from polaris.db.uow import unit_of_work
from polaris.drive import indexing as drive_index
from polaris.drive import scanning
from polaris.ingest import text_service
from polaris.instance import Instance
from polaris.search.interface import SearchDocument, SearchEngine
from polaris.search.requests import INDEX_JOB
from polaris.search.service import open_search_engine
from polaris.search.text import TERMS_VERSION

REINDEX_JOB = "search.reindex"

#: Nodes whose texts are read from the database at once.
BATCH = 500
#: Index jobs a pass takes at most (they are claimed together, and recorded together).
PASS_JOBS = 200
#: Text (UTF-8 bytes of names and texts) a pass holds before it commits: memory stays flat when
#: a pass meets long texts or a large subtree (a subtree job is read ``BATCH`` nodes at a time).
PASS_TEXT_BYTES = 16 * 1024 * 1024
_OPEN_LOCK = threading.Lock()


def engine_of(instance: Instance) -> SearchEngine:
    """The instance's search engine, opened on first use."""
    with _OPEN_LOCK:
        if instance.search is None:
            instance.search = open_search_engine(instance.settings, instance.engine)
        return instance.search


@dataclass
class _Pass:
    """What a pass will write, and which jobs asked for each node (to fail the right ones)."""

    engine: SearchEngine
    documents: dict[int, SearchDocument] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    asked: dict[int, set[int]] = field(default_factory=dict)  # node id -> job ids
    size: int = 0
    failures: dict[int, list[str]] = field(default_factory=dict)  # job id -> reasons

    def index(self, job_id: int, document: SearchDocument) -> None:
        self.gone.discard(document.node_id)
        self.documents[document.node_id] = document  # the later read wins
        self.asked.setdefault(document.node_id, set()).add(job_id)
        self.size += len(document.name.encode()) + len(document.text.encode())
        if self.size >= PASS_TEXT_BYTES:
            self.commit()

    def remove(self, job_id: int, node_ids: Sequence[int]) -> None:
        for node_id in node_ids:
            self.documents.pop(node_id, None)
            self.gone.add(node_id)
            self.asked.setdefault(node_id, set()).add(job_id)

    def commit(self) -> None:
        if self.documents or self.gone:
            rejected = self.engine.write(list(self.documents.values()), sorted(self.gone))
            for node_id, reason in sorted(rejected.items()):
                for job_id in self.asked.get(node_id, ()):
                    self.failures.setdefault(job_id, []).append(f"node {node_id}: {reason}")
        self.documents, self.gone, self.asked, self.size = {}, set(), {}, 0


@jobs.batch_handler(INDEX_JOB, size=PASS_JOBS)
def index_jobs(instance: Instance, batch: Sequence[jobs.BatchJob]) -> jobs.BatchOutcome:
    """A pass: every job of ``batch`` read in one snapshot and written with one commit."""
    writes = _Pass(engine_of(instance))
    outcome: jobs.BatchOutcome = {}
    session = instance.read_sessions()
    try:
        with session.begin():
            reader = _Reader(session, writes)
            requests: dict[int, tuple[int | list[int], bool]] = {}
            for job in batch:
                try:
                    requests[job.job_id] = _request(job.payload)
                except (KeyError, TypeError, ValueError) as error:
                    outcome[job.job_id] = jobs.JobFailure(
                        f"not an index request: {error!r}", permanent=True
                    )
            reader.find([what for what, _ in requests.values() if isinstance(what, int)])
            for job_id, request in requests.items():
                outcome[job_id] = reader.read(job_id, *request)
            reader.flush()
    finally:
        session.close()
    writes.commit()
    for job_id, reasons in writes.failures.items():
        outcome[job_id] = jobs.JobFailure("; ".join(reasons), permanent=True)
    return outcome


def _request(payload: dict[str, Any]) -> tuple[int | list[int], bool]:
    """``(node id, subtree)`` or ``(purged node ids, False)``."""
    if "remove" in payload:
        return [int(node_id) for node_id in payload["remove"]], False
    subtree = payload["subtree"]
    if not isinstance(subtree, bool):
        raise TypeError("subtree must be true or false")
    return int(payload["node_id"]), subtree


class _Reader:
    """Reads what jobs ask for, texts ``BATCH`` nodes at a time, into a pass."""

    def __init__(self, session: Session, writes: _Pass) -> None:
        self.session = session
        self.writes = writes
        self.waiting: list[tuple[int, drive_index.IndexedNode]] = []
        self.known: dict[int, drive_index.Located] | None = None

    def find(self, node_ids: list[int]) -> None:
        """Find the pass's nodes together, in this snapshot (see ``located_for_index``)."""
        self.known = drive_index.located_for_index(self.session, node_ids)

    def read(self, job_id: int, what: int | list[int], subtree: bool) -> dict[str, Any]:
        if isinstance(what, list):
            self.writes.remove(job_id, what)  # purged: nothing left to read
            return {"removed": len(what)}
        live, gone = drive_index.nodes_for_index(
            self.session, what, subtree=subtree, known=self.known
        )
        self.writes.remove(job_id, gone)
        for node in live:
            self.waiting.append((job_id, node))
            if len(self.waiting) >= BATCH:
                self.flush()
        return {"indexed": len(live), "removed": len(gone)}

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, []
        version_ids = [node.version_id for _, node in waiting if node.version_id is not None]
        texts = text_service.texts_of(self.session, version_ids)
        for held in scanning.held_versions(self.session, version_ids):
            texts.pop(held, None)  # until its scan clears it (``version.scanned``)
        for job_id, node in waiting:
            self.writes.index(job_id, document_of(node, texts))


def index_node(instance: Instance, node_id: int, *, subtree: bool) -> dict[str, Any]:
    """Bring the index in line with a node (or its subtree) as it is now; idempotent."""
    writes = _Pass(engine_of(instance))
    session = instance.read_sessions()
    try:
        with session.begin():
            reader = _Reader(session, writes)
            result = reader.read(0, node_id, subtree)
            reader.flush()
    finally:
        session.close()
    writes.commit()
    if writes.failures:
        raise ValueError("; ".join(writes.failures[0]))
    return result


def document_of(node: drive_index.IndexedNode, texts: dict[int, str]) -> SearchDocument:
    return SearchDocument(
        node_id=node.node_id,
        space_id=node.space_id,
        ancestors=node.ancestors,
        name=node.name,
        text=texts.get(node.version_id, "") if node.version_id is not None else "",
        content_type=node.content_type if node.is_file else "inode/directory",
        classification=node.classification,
        owner_id=node.owner_id,
        unit_id=node.unit_id,
        modified_at=node.modified_at,
    )


def ensure_current(instance: Instance) -> bool:
    """Queue a rebuild when the index holds other terms than this version makes; ``True`` when
    one is needed (queued now, or already waiting)."""
    if engine_of(instance).terms_version() == TERMS_VERSION:
        return False
    with unit_of_work(instance.sessions) as session:
        jobs.enqueue(
            session,
            kind=REINDEX_JOB,
            payload={"terms": TERMS_VERSION},
            key=f"{REINDEX_JOB}:terms-{TERMS_VERSION}",
        )
    return True


@jobs.handler(REINDEX_JOB)
def reindex_job(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    engine = engine_of(context.instance)
    if engine.terms_version() == TERMS_VERSION:
        return {"indexed": 0}  # another worker's job did it
    return {"indexed": reindex_all(context.instance)}


def reindex_all(instance: Instance, *, on_progress: Any = None) -> int:
    """Rebuild the whole index from the database (after a restore, a change of engine, or of
    terms), and record that it holds today's terms."""
    engine = engine_of(instance)
    session = instance.read_sessions()
    try:
        with session.begin():
            roots = drive_index.space_roots(session)
    finally:
        session.close()
    engine.clear()
    indexed = 0
    for done, root in enumerate(roots, start=1):
        indexed += int(index_node(instance, root, subtree=True)["indexed"])
        if on_progress is not None:
            on_progress(done, len(roots))
    engine.set_terms_version(TERMS_VERSION)
    return indexed
