"""Garbage collection: remove the chunks and manifests nothing needs, after a grace period.

The rules (docs/storage-format.md §15):

* an object is **referenced** when the database needs it (a version's manifest and chunks, a
  preview's chunks, the chunks of an upload in progress: the caller's :class:`ReferenceSource`),
  or when it is a chunk of a manifest that is kept;
* an object **younger than the grace period** (by its modification time, which a writer refreshes
  when it reuses the object: ``Backend.touch``) is kept, referenced or not: a writer may be about
  to commit the row that references it;
* a manifest is removed before the chunks it names, and each removal is atomic against a writer's
  reuse (``Backend.remove_unless_reused``), so an object reused while GC runs survives;
* nothing is removed when the database references an object the store does not have: that is a
  damaged store or a database that does not belong to it, and removing by it could destroy data.

References are read before the store is listed, so an object written after that is young and
kept. Key wrappings are never collected. Of a node's placement records (§8a) only superseded ones
are: an older record goes once a newer one of the same node exists and can be read, and never the
newest, whatever its age (it is what a recovery without the database needs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from polaris.clock import utcnow
from polaris.errors import StorageFailure
from polaris.storage import names
from polaris.storage._index import ScratchIndex
from polaris.storage.backend import ObjectInfo
from polaris.storage.crypto import SealError
from polaris.storage.references import ReferenceSource

if TYPE_CHECKING:
    from polaris.storage.store import BlobStore


@dataclass(frozen=True)
class Garbage:
    """An object garbage collection removes (or, in a dry run, would remove)."""

    name: str
    size: int
    modified_at: dt.datetime


@dataclass
class GcReport:
    """What a run found and did. ``refused`` says why nothing was removed, when it was refused."""

    dry_run: bool
    cutoff: dt.datetime
    references: int = 0
    objects: int = 0
    garbage: int = 0
    garbage_bytes: int = 0
    removed: int = 0
    removed_bytes: int = 0
    #: Unreferenced but younger than the grace period.
    kept_young: int = 0
    #: Reused by a writer while this run was deciding (found young at removal).
    kept_reused: int = 0
    #: Superseded placement records kept because the node's newest record cannot be read.
    kept_placements: int = 0
    refused: str | None = None


_MISSING_REFERENCED = """
SELECT (SELECT COUNT(*) FROM ref r WHERE r.manifest_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM manifest m WHERE m.id = r.manifest_id))
     + (SELECT COUNT(DISTINCT rc.chunk_id) FROM ref_chunk rc
          WHERE NOT EXISTS (SELECT 1 FROM chunk c WHERE c.id = rc.chunk_id))
"""
_YOUNG_UNREFERENCED_MANIFESTS = """
SELECT m.id FROM manifest m WHERE m.modified_at > ?
   AND NOT EXISTS (SELECT 1 FROM ref r WHERE r.manifest_id = m.id)
"""
_GARBAGE_MANIFESTS = """
SELECT m.id, m.stored_size, m.modified_at FROM manifest m WHERE m.modified_at <= ?
   AND NOT EXISTS (SELECT 1 FROM ref r WHERE r.manifest_id = m.id) ORDER BY m.id
"""
_GARBAGE_CHUNKS = """
SELECT c.id, c.stored_size, c.modified_at FROM chunk c WHERE c.modified_at <= ?
   AND NOT EXISTS (SELECT 1 FROM ref_chunk rc WHERE rc.chunk_id = c.id)
   AND NOT EXISTS (SELECT 1 FROM manifest_chunk mc WHERE mc.chunk_id = c.id) ORDER BY c.id
"""
_YOUNG_UNREFERENCED = """
SELECT (SELECT COUNT(*) FROM manifest m WHERE m.modified_at > ?
          AND NOT EXISTS (SELECT 1 FROM ref r WHERE r.manifest_id = m.id))
     + (SELECT COUNT(*) FROM chunk c WHERE c.modified_at > ?
          AND NOT EXISTS (SELECT 1 FROM ref_chunk rc WHERE rc.chunk_id = c.id)
          AND NOT EXISTS (SELECT 1 FROM manifest_chunk mc WHERE mc.chunk_id = c.id))
"""


def collect_garbage(
    store: BlobStore,
    *,
    references: ReferenceSource,
    grace: dt.timedelta,
    dry_run: bool,
    now: dt.datetime | None = None,
    on_garbage: Callable[[Garbage], None] | None = None,
    scratch_dir: Path | None = None,
) -> GcReport:
    """Remove (or with ``dry_run`` only list) unreferenced chunks and manifests older than
    ``grace``; ``on_garbage`` is called for each, in removal order (manifests, then chunks)."""
    if grace <= dt.timedelta(0):
        raise ValueError("the grace period must be positive")
    cutoff_time = (now or utcnow()) - grace
    cutoff = cutoff_time.timestamp()
    report = GcReport(dry_run=dry_run, cutoff=cutoff_time)
    backend = store.backend
    with ScratchIndex(scratch_dir) as index:
        for reference in references.references():
            index.add_reference(reference)
            report.references += 1
        for info in backend.scan(names.CHUNKS):
            cid = names.parse_chunk_name(info.name)
            if cid is not None:
                index.add_chunk(cid, stored_size=info.size, modified_at=info.modified_at)
                report.objects += 1
        for info in backend.scan(names.MANIFESTS):
            mid = names.parse_manifest_name(info.name)
            if mid is not None:
                index.add_manifest(mid, stored_size=info.size, modified_at=info.modified_at)
                report.objects += 1
        index.flush()
        missing = int(index.scalar(_MISSING_REFERENCED))
        if missing:
            report.refused = (
                f"the database references {missing} object(s) the store does not have; "
                "run 'polaris storage verify' and repair the store first"
            )
            return report
        report.refused = _protect_young_manifests(store, index, cutoff)
        if report.refused is not None:
            return report
        report.kept_young = int(index.scalar(_YOUNG_UNREFERENCED, cutoff, cutoff))
        for query, to_name in (
            (_GARBAGE_MANIFESTS, names.manifest_name),
            (_GARBAGE_CHUNKS, names.chunk_name),
        ):
            for object_id, size, modified_at in index.rows(query, cutoff):
                garbage = Garbage(
                    to_name(bytes(object_id).hex()),
                    int(size),
                    dt.datetime.fromtimestamp(modified_at, dt.UTC),
                )
                _collect(store, garbage, cutoff, report, on_garbage)
    _collect_superseded_placements(store, cutoff, report, on_garbage)
    return report


def _collect_superseded_placements(
    store: BlobStore,
    cutoff: float,
    report: GcReport,
    on_garbage: Callable[[Garbage], None] | None,
) -> None:
    """Remove the records a newer, readable record of the same node supersedes (§15 rule 6).

    The listing is in name order, so a node's records come together, oldest first; one node's
    group is in memory at a time.
    """
    group: list[ObjectInfo] = []
    current = None
    for info in store.backend.scan(names.PLACEMENTS):
        parsed = names.parse_placement_name(info.name)
        if parsed is None:
            continue
        report.objects += 1
        if parsed[0] != current and group:
            _supersede(store, group, cutoff, report, on_garbage)
            group = []
        current = parsed[0]
        group.append(info)
    if group:
        _supersede(store, group, cutoff, report, on_garbage)


def _supersede(
    store: BlobStore,
    group: list[ObjectInfo],
    cutoff: float,
    report: GcReport,
    on_garbage: Callable[[Garbage], None] | None,
) -> None:
    if len(group) < 2:
        return
    *older, newest = sorted(group, key=lambda info: info.name)
    try:
        store.open_placement(newest.name)
    except (SealError, StorageFailure):
        report.kept_placements += len(older)
        return
    for info in older:
        if info.modified_at > cutoff:
            report.kept_young += 1
            continue
        garbage = Garbage(info.name, info.size, dt.datetime.fromtimestamp(info.modified_at, dt.UTC))
        _collect(store, garbage, cutoff, report, on_garbage)


def _protect_young_manifests(store: BlobStore, index: ScratchIndex, cutoff: float) -> str | None:
    """Record the chunks of manifests kept only for being young (their rows may be about to be
    committed), so those chunks are kept too; a reason to refuse if one cannot be read."""
    for (mid_bytes,) in list(index.rows(_YOUNG_UNREFERENCED_MANIFESTS, cutoff)):
        mid = bytes(mid_bytes).hex()
        try:
            manifest = store.open_manifest(mid)
        except (SealError, StorageFailure) as exc:
            reason = exc.reason if isinstance(exc, SealError) else exc.detail
            return (
                f"{names.manifest_name(mid)} cannot be read ({reason}), so the chunks it needs "
                "are unknown; run 'polaris storage verify'"
            )
        index.add_manifest_chunks(mid, (c.chunk_id for c in manifest.content.chunks))
    index.flush()
    return None


def _collect(
    store: BlobStore,
    garbage: Garbage,
    cutoff: float,
    report: GcReport,
    on_garbage: Callable[[Garbage], None] | None,
) -> None:
    if report.dry_run:
        report.garbage += 1
        report.garbage_bytes += garbage.size
        if on_garbage is not None:
            on_garbage(garbage)
        return
    if not store.backend.remove_unless_reused(garbage.name, cutoff):
        report.kept_reused += 1
        return
    report.garbage += 1
    report.garbage_bytes += garbage.size
    report.removed += 1
    report.removed_bytes += garbage.size
    if on_garbage is not None:
        on_garbage(garbage)
