"""Garbage collection: only unreferenced objects older than the grace period go; everything
referenced (versions, previews, uploads in progress), everything young and everything reused by a
writer meanwhile stays; a dry run lists and removes nothing."""

from __future__ import annotations

import datetime as dt
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from polaris.storage import BlobStore, FileMetadata, LocalBackend, names
from polaris.storage.gc import Garbage, GcReport, collect_garbage
from polaris.storage.references import Reference
from tests.storage.conftest import CHUNK, ListedReferences, RawObjects, chunk_names, object_files

GRACE = dt.timedelta(days=7)


def set_age(blob_root: Path, name: str, days: float) -> None:
    when = (datetime.now(UTC) - dt.timedelta(days=days)).timestamp()
    os.utime(blob_root / name, (when, when))


def age_everything(blob_root: Path, days: float = 30) -> None:
    for name in object_files(blob_root, "data/"):
        set_age(blob_root, name, days)


def gc(
    store: BlobStore, refs: ListedReferences, *, dry_run: bool, now: datetime | None = None
) -> tuple[list[Garbage], GcReport]:
    seen: list[Garbage] = []
    report = collect_garbage(
        store, references=refs, grace=GRACE, dry_run=dry_run, now=now, on_garbage=seen.append
    )
    return seen, report


@pytest.fixture
def scene(store: BlobStore, refs: ListedReferences) -> dict[str, list[str]]:
    plan = build_scene(store, refs)
    age_everything(store.backend.root)  # type: ignore[attr-defined]
    return plan


def build_scene(store: BlobStore, refs: ListedReferences) -> dict[str, list[str]]:
    """A version, a preview, an upload in progress, and garbage: a manifest whose row was never
    committed (with its chunk) and a chunk left by a dead writer."""
    mid, content = refs.version(store, os.urandom(CHUNK + 3), "space 1: /kept.pdf, version 1")
    preview = refs.rendition(store, os.urandom(200), "thumbnail of /kept.pdf")
    upload = store.put_bytes(os.urandom(CHUNK))
    refs.items.append(Reference("upload:abc", upload.chunks))
    stray = store.put_bytes(os.urandom(50))
    stray_mid = store.write_manifest(stray, FileMetadata(name="s", created_at=datetime.now(UTC)))
    dead = store.put_bytes(os.urandom(70))
    return {
        "kept": [
            names.manifest_name(mid),
            *chunk_names(content),
            *chunk_names(preview),
            *chunk_names(upload),
        ],
        # In removal order: manifests first, then chunks (each kind in id order).
        "garbage": [
            names.manifest_name(stray_mid),
            *sorted(chunk_names(stray) + chunk_names(dead)),
        ],
    }


def test_a_dry_run_lists_only_unreferenced_old_objects_and_removes_nothing(
    store: BlobStore, refs: ListedReferences, blob_root: Path, scene: dict[str, list[str]]
) -> None:
    before = object_files(blob_root)
    seen, report = gc(store, refs, dry_run=True)
    assert [g.name for g in seen] == scene["garbage"]  # the manifest before its chunk
    sizes = {name: (blob_root / name).stat().st_size for name in scene["garbage"]}
    assert {g.name: g.size for g in seen} == sizes
    assert report.garbage == 3 and report.garbage_bytes == sum(sizes.values())
    assert report.removed == 0
    assert object_files(blob_root) == before


def test_gc_removes_the_garbage_and_keeps_everything_referenced(
    store: BlobStore, refs: ListedReferences, blob_root: Path, scene: dict[str, list[str]]
) -> None:
    seen, report = gc(store, refs, dry_run=False)
    assert [g.name for g in seen] == scene["garbage"]
    assert report.removed == 3
    left = set(object_files(blob_root, "data/"))
    assert left == set(scene["kept"])
    check = store.verify(references=refs)
    assert check.ok and check.unreferenced_chunk_count == 0
    assert check.unreferenced_manifest_count == 0
    assert list(store.backend.list("tmp/")) == [] and list((blob_root / "tmp").iterdir()) == []


def test_young_objects_stay_and_so_do_the_chunks_of_a_young_manifest(
    store: BlobStore, refs: ListedReferences, blob_root: Path, scene: dict[str, list[str]]
) -> None:
    """A young manifest may belong to an upload about to be committed: it and its (old) chunks
    are kept; a young chunk alone is kept too."""
    stray_manifest = scene["garbage"][0]
    stray_chunk = next(
        name for name in scene["garbage"][1:] if (blob_root / name).stat().st_size == 50 + 42
    )
    dead_chunk = next(name for name in scene["garbage"][1:] if name != stray_chunk)
    set_age(blob_root, stray_manifest, 6)
    set_age(blob_root, dead_chunk, 1)
    seen, report = gc(store, refs, dry_run=False)
    assert seen == []
    assert report.kept_young == 2
    assert {stray_manifest, stray_chunk, dead_chunk} <= set(object_files(blob_root))


def test_a_chunk_reused_by_a_writer_is_young_again_and_kept(
    store: BlobStore, refs: ListedReferences, blob_root: Path
) -> None:
    """Dedup: a writer storing content that is already there relies on the old chunk; the reuse
    refreshes its time, so GC keeps it until the writer's row is committed."""
    data = os.urandom(80)
    [name] = chunk_names(store.put_bytes(data))
    set_age(blob_root, name, 30)
    dry, _ = gc(store, refs, dry_run=True)
    assert [g.name for g in dry] == [name]
    store.put_bytes(data)  # a new upload of the same bytes, its row not committed yet
    seen, report = gc(store, refs, dry_run=False)
    assert seen == [] and (blob_root / name).exists()
    assert report.kept_young == 1


def test_put_chunk_refreshes_an_existing_chunks_time(store: BlobStore, blob_root: Path) -> None:
    data = os.urandom(90)
    [name] = chunk_names(store.put_bytes(data))
    os.utime(blob_root / name, (1_000_000, 1_000_000))
    store.put_bytes(data)
    assert (blob_root / name).stat().st_mtime > 1_000_000


def test_removal_is_atomic_against_a_writers_reuse(store: BlobStore, blob_root: Path) -> None:
    """The decision is made on a listing; a reuse after it (the object's time refreshed) keeps
    the object, and a reuse after the removal finds nothing and stores it again."""
    backend = store.backend
    assert isinstance(backend, LocalBackend)
    [name] = chunk_names(store.put_bytes(b"reused"))
    cutoff = datetime.now(UTC).timestamp() - 60
    assert backend.remove_unless_reused(name, cutoff) is False  # just written: young
    assert backend.exists(name)
    os.utime(blob_root / name, (cutoff - 10, cutoff - 10))
    assert backend.remove_unless_reused(name, cutoff) is True
    assert not backend.exists(name)
    assert backend.touch(name) is False  # a writer's reuse now stores it anew
    assert store.put_bytes(b"reused").chunks[0].chunk_id in name
    assert store.read_bytes(store.put_bytes(b"reused")) == b"reused"


def test_gc_refuses_when_the_database_references_missing_objects(
    store: BlobStore, refs: ListedReferences, blob_root: Path, scene: dict[str, list[str]]
) -> None:
    """A store that lost objects, or a database that is not this store's: removing by it could
    destroy data, so nothing is removed."""
    (blob_root / scene["kept"][0]).unlink()
    before = object_files(blob_root)
    seen, report = gc(store, refs, dry_run=False)
    assert seen == [] and report.refused is not None
    assert "references 1 object(s) the store does not have" in report.refused
    assert object_files(blob_root) == before


def test_the_grace_period_must_be_positive(store: BlobStore, refs: ListedReferences) -> None:
    with pytest.raises(ValueError, match="grace"):
        collect_garbage(store, references=refs, grace=dt.timedelta(0), dry_run=True)


@pytest.mark.parametrize("backend_kind", ["local", "s3"])
def test_gc_keeps_what_is_young_and_later_removes_only_the_garbage(
    store: BlobStore, refs: ListedReferences, raw: RawObjects
) -> None:
    """On every backend, S3 included: the store sets an object's time itself (S3's LastModified
    cannot be set back), so instead of ageing the objects gc runs as of a month from now."""
    plan = build_scene(store, refs)
    everything = raw.names("data/")
    assert sorted(plan["kept"] + plan["garbage"]) == everything

    seen, report = gc(store, refs, dry_run=False)
    assert seen == [] and report.removed == 0 and report.kept_young >= 2
    assert raw.names("data/") == everything

    later = datetime.now(UTC) + dt.timedelta(days=30)
    dry, _ = gc(store, refs, dry_run=True, now=later)
    assert [g.name for g in dry] == plan["garbage"]
    assert raw.names("data/") == everything

    seen, report = gc(store, refs, dry_run=False, now=later)
    assert [g.name for g in seen] == plan["garbage"] and report.removed == 3
    assert raw.names("data/") == sorted(plan["kept"])
    check = store.verify(references=refs)
    assert check.ok and check.unreferenced_chunk_count == 0, check.findings


@pytest.mark.parametrize("backend_kind", ["local", "s3"])
def test_gc_refuses_on_any_backend_when_a_referenced_object_is_missing(
    store: BlobStore, refs: ListedReferences, raw: RawObjects
) -> None:
    plan = build_scene(store, refs)
    raw.delete(plan["kept"][1])
    before = raw.names()
    later = datetime.now(UTC) + dt.timedelta(days=30)
    seen, report = gc(store, refs, dry_run=False, now=later)
    assert seen == [] and report.refused is not None
    assert raw.names() == before
