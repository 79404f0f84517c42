"""Placement records: the drive's tree, kept in the blob store for a recovery without the database.

A manifest (written with each version) says where its file was at that moment, and cannot change
afterwards. So that a rename, a move, a delete or a new classification after the last version is
not lost with the database, the consumer below follows the drive's own change stream and has a
job write a *placement record* for each node such a change touched (``storage.placement``,
docs/storage-format.md §8a): its name, parent, space, own level and trash mark as the database has
them when the batch runs. The record's generation is the event's position, so the newest record of
a node is the one written after its latest change.

What is recorded, and why only that:

* folders, when created, renamed, moved, deleted, restored, reclassified or copied: nothing else
  in the store names a folder, and a file's place is read from its parent's;
* files, when renamed, moved, deleted, restored or reclassified: a new file's first manifest says
  where it is (with its parent's id in ``extra.parent_id``), so a creation needs no record;
* a purged node: a tombstone, so that its manifests (kept until garbage collection) do not bring
  it back.

The record holds the state the database has when the job runs, which is never older than the
event; writing is idempotent (a record equal to the node's newest is not written again), so a batch
handed over twice writes nothing new. A node's record lags the database by the consumer's and the
queue's lag (normally well under a second; a store that cannot be written to is retried).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from polaris import events, jobs
from polaris.access.policy import Classification
from polaris.clock import utcnow
from polaris.drive import events as drive_events
from polaris.drive import repo
from polaris.drive._locate import Located, chunks, locate_many
from polaris.drive.models import FOLDER
from polaris.storage.placement import PlacedSpace, Placement
from polaris.storage.store import BlobStore

CONSUMER = "drive.placements"
JOB = "drive.placements"
#: A store that cannot be written to is retried with the queue's backoff for about a day.
JOB_ATTEMPTS = 30
#: The node's own place changed (the node is the event's subject).
PLACE_KINDS = frozenset(
    {
        drive_events.NODE_RENAMED,
        drive_events.NODE_MOVED,
        drive_events.NODE_TRASHED,
        drive_events.NODE_RESTORED,
        drive_events.NODE_CLASSIFIED,
    }
)
KINDS = [
    *sorted(PLACE_KINDS),
    drive_events.NODE_CREATED,
    drive_events.NODE_COPIED,
    drive_events.NODE_PURGED,
]


@events.consumer(CONSUMER, kinds=KINDS, batch=200)
def record_placements(session: Session, batch: Sequence[events.Event]) -> None:
    """Queue the writing of the records of the nodes the batch changed (one job per batch).

    Writing is a job, not done here: each record is a create-only, fsync'd object, and a purge or
    a copy of a large tree touches thousands of nodes; the consumers behind this one must not
    wait for that. Jobs may run in any order and twice: a record holds the node's state when it
    is written, and a lower generation than the node's newest record is not written at all.
    """
    changed: dict[int, int] = {}
    purged: dict[int, int] = {}
    for event in batch:
        for node_id in _nodes_of(session, event):
            changed[node_id] = event.position
            purged.pop(node_id, None)
        if event.kind == drive_events.NODE_PURGED:
            changed.pop(event.subject_id, None)
            purged[event.subject_id] = event.position
    if changed or purged:
        jobs.enqueue(
            session,
            kind=JOB,
            payload={"nodes": sorted(changed.items()), "purged": sorted(purged.items())},
            max_attempts=JOB_ATTEMPTS,
        )


@jobs.handler(JOB)
def write_records(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Write the records a batch of the stream asked for (the tombstones, then the others)."""
    blobs = context.instance.blobs
    now = utcnow()
    purged = [(int(node_id), int(position)) for node_id, position in payload["purged"]]
    changed = {int(node_id): int(position) for node_id, position in payload["nodes"]}
    tombstones = 0
    for done, (node_id, position) in enumerate(purged, start=1):
        gone = Placement(node_id=node_id, generation=position, recorded_at=now, purged=True)
        tombstones += blobs.write_placement(gone) is not None
        if done % 100 == 0:
            context.progress(done, len(purged) + len(changed))
    with context.instance.read_sessions() as session:
        written = write_placements(
            session,
            blobs,
            changed,
            recorded_at=now,
            progress=lambda done: context.progress(len(purged) + done, len(purged) + len(changed)),
        )
    return {"written": written, "tombstones": tombstones}


def _nodes_of(session: Session, event: events.Event) -> Iterable[int]:
    if event.kind in PLACE_KINDS:
        return [event.subject_id]
    if event.kind == drive_events.NODE_CREATED:
        return [event.subject_id] if event.data.get("folder") else []
    if event.kind == drive_events.NODE_COPIED:
        top = repo.get_node(session, event.subject_id)
        if top is None:
            return []  # purged since: its tombstones follow
        return [node.id for node in repo.subtree(session, top) if node.kind == FOLDER]
    return []


def write_placements(
    session: Session,
    blobs: BlobStore,
    generations: dict[int, int],
    *,
    recorded_at: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the current placement of each node in ``generations`` (node id: generation); nodes
    gone meanwhile are passed over (their purge writes their tombstone). How many were written;
    ``progress`` gets the number of nodes looked at after each piece of 500, after which the
    session's objects are detached (memory stays bounded: give it a session of its own)."""
    now = utcnow() if recorded_at is None else recorded_at
    written = looked = 0
    for piece in chunks(sorted(generations)):
        for node_id, located in sorted(locate_many(session, piece).items()):
            if located.is_root:
                continue  # a space's root never moves: the space's description names it
            record = placement_of(located, generation=generations[node_id], recorded_at=now)
            if blobs.write_placement(record) is not None:
                written += 1
        looked += len(piece)
        if progress is not None:
            progress(looked)
        session.expunge_all()
    return written


def placement_of(located: Located, *, generation: int, recorded_at: dt.datetime) -> Placement:
    """The record of a node as the database has it now."""
    node, space = located.node, located.space
    return Placement(
        node_id=node.id,
        generation=generation,
        recorded_at=recorded_at,
        kind=node.kind,
        name=node.name,
        parent_id=node.parent_id,
        path=located.display_path,
        space=PlacedSpace(
            id=space.id,
            kind=space.kind,
            name=space.name,
            root_id=space.root_id or located.chain[0].id,
            unit_id=space.unit_id,
            owner_id=space.owner_id,
            classification=level_name(space.classification),
            quota_bytes=space.quota_bytes,
        ),
        classification=level_name(node.classification),
        effective_classification=level_name(int(located.classification)),
        created_at=node.created_at,
        trashed_at=node.trashed_at,
    )


def level_name(level: int) -> str:
    return Classification(level).name.lower()


def record_every_node(session: Session, blobs: BlobStore, *, page: int = 500) -> int:
    """A record for every node whose newest record does not already say where it is: after an
    upgrade from a version without placement records (``polaris storage placements``), and by
    a recovery for the tree it rebuilt. The generation is the stream's head, read first, so a
    change made meanwhile has a later one. How many records were written."""
    head = events.head_position(session)
    written, after = 0, 0
    while ids := repo.node_ids_after(session, after, limit=page):
        written += write_placements(session, blobs, dict.fromkeys(ids, head))
        after = ids[-1]
    return written
