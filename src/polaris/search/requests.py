"""Asking for the index to follow a change: called by the search consumer of the change stream
(``search.consumers``) in its transaction, so a request cannot be lost (the job in
``search.indexing`` does the work).

Shares need no reindexing: who may see a document is decided at query time.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris import jobs

INDEX_JOB = "search.index"


def request_index(session: Session, node_id: int, *, subtree: bool = False) -> None:
    """Index a node (and with ``subtree`` everything below it) as it is when the job runs: its
    name, place, classification and text; a trashed or purged node is removed."""
    scope = "tree" if subtree else "node"
    jobs.enqueue(
        session,
        kind=INDEX_JOB,
        payload={"node_id": node_id, "subtree": subtree},
        key=f"{INDEX_JOB}:{scope}:{node_id}",
        subject=("node", node_id),
    )


def request_indexes(session: Session, wanted: dict[int, bool]) -> None:
    """:func:`request_index` for many nodes (node id -> subtree) with one statement."""
    jobs.enqueue_keyed(
        session,
        INDEX_JOB,
        [
            jobs.KeyedJob(
                key=f"{INDEX_JOB}:{'tree' if subtree else 'node'}:{node_id}",
                payload={"node_id": node_id, "subtree": subtree},
                subject=("node", node_id),
            )
            for node_id, subtree in wanted.items()
        ],
    )


def request_removal(session: Session, node_ids: list[int]) -> None:
    """Remove purged nodes (they will not be found when the job runs)."""
    if node_ids:
        jobs.enqueue(session, kind=INDEX_JOB, payload={"remove": node_ids})
