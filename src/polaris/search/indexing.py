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
"""

from __future__ import annotations

import threading
from typing import Any

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

BATCH = 500
_OPEN_LOCK = threading.Lock()


def engine_of(instance: Instance) -> SearchEngine:
    """The instance's search engine, opened on first use."""
    with _OPEN_LOCK:
        if instance.search is None:
            instance.search = open_search_engine(instance.settings, instance.engine)
        return instance.search


@jobs.handler(INDEX_JOB)
def index_job(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    engine = engine_of(context.instance)
    if "remove" in payload:
        removed = [int(node_id) for node_id in payload["remove"]]
        engine.delete(removed)
        return {"removed": len(removed)}
    return index_node(context.instance, int(payload["node_id"]), subtree=bool(payload["subtree"]))


def index_node(instance: Instance, node_id: int, *, subtree: bool) -> dict[str, Any]:
    """Bring the index in line with a node (or its subtree) as it is now; idempotent."""
    engine = engine_of(instance)
    session = instance.read_sessions()
    try:
        with session.begin():
            live, gone = drive_index.nodes_for_index(session, node_id, subtree=subtree)
            version_ids = [n.version_id for n in live if n.version_id is not None]
            texts = text_service.texts_of(session, version_ids)
            for held in scanning.held_versions(session, version_ids):
                texts.pop(held, None)  # until its scan clears it (``version.scanned``)
    finally:
        session.close()
    if gone:
        engine.delete(gone)
    for start in range(0, len(live), BATCH):
        engine.upsert([document_of(node, texts) for node in live[start : start + BATCH]])
    return {"indexed": len(live), "removed": len(gone)}


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
