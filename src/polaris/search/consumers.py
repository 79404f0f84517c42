"""The search index's consumer of the change stream: each change to a node, its content or its
text becomes a keyed ``search.index`` job (``search.requests``).

Registered by importing this module (``polaris.handlers.load_consumers``). The consumer only
queues jobs, in the transaction that moves its cursor; the jobs read the node as it is when they
run, so several changes to one node in a batch make one job, and a batch handed over again queues
nothing new while its jobs wait (they are keyed by node and scope).

What each kind asks for:

* a node created or renamed, a version added or restored, text stored, a malware scan's verdict
  (held content's text is left out of the index until its scan clears it): that node;
* a node moved, copied, trashed, restored or classified: its subtree (places, levels and trash
  state below it change with it);
* a node purged: its removal from the index (the rows are gone; the job cannot look them up).

Shares are not followed: who may see a document is decided at query time.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from polaris import events
from polaris.drive import events as drive_events
from polaris.ingest.text_service import TEXT_STORED
from polaris.search import requests

CONSUMER = "search.index"

NODE = frozenset({drive_events.NODE_CREATED, drive_events.NODE_RENAMED})
SUBTREE = frozenset(
    {
        drive_events.NODE_MOVED,
        drive_events.NODE_COPIED,
        drive_events.NODE_TRASHED,
        drive_events.NODE_RESTORED,
        drive_events.NODE_CLASSIFIED,
    }
)
CONTENT = frozenset(
    {
        drive_events.VERSION_ADDED,
        drive_events.VERSION_RESTORED,
        drive_events.VERSION_SCANNED,
        TEXT_STORED,
    }
)


@events.consumer(CONSUMER, kinds=sorted(NODE | SUBTREE | CONTENT | {drive_events.NODE_PURGED}))
def follow_changes(session: Session, batch: Sequence[events.Event]) -> None:
    """Queue one index job per node (its subtree when any event asks for it) and one removal."""
    wanted: dict[int, bool] = {}  # node id -> subtree
    removed: list[int] = []
    for event in batch:
        if event.kind == drive_events.NODE_PURGED:
            wanted.pop(event.subject_id, None)
            removed.append(event.subject_id)
        elif event.kind in CONTENT:
            node_id = event.data.get("node_id")
            if isinstance(node_id, int):
                wanted[node_id] = wanted.get(node_id, False)
        elif event.kind in NODE | SUBTREE:
            subtree = event.kind in SUBTREE
            wanted[event.subject_id] = wanted.get(event.subject_id, False) or subtree
    requests.request_indexes(session, wanted)
    requests.request_removal(session, removed)
