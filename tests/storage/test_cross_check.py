"""verify with references: every object the database needs is present and intact, and each one
missing is named with the file it breaks; what no reference needs is unreferenced, not a problem.

The database is stood in for by ``conftest.ListedReferences``, a plain implementation of the
``ReferenceSource`` protocol (the real ones, over the drive and ingest tables, are tested in
``tests/admin/test_stored_content.py``).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from polaris.storage import BlobStore, FileMetadata, Finding, VerifyProgress, names, verify
from polaris.storage.references import Reference
from tests.storage.conftest import CHUNK, ListedReferences, chunk_names


def test_a_clean_store_with_previews_has_nothing_unreferenced(
    store: BlobStore, refs: ListedReferences
) -> None:
    """Previews, page images and OCR'd PDFs have chunks and no manifest: they are referenced
    content, not unreferenced chunks (7 were reported after a clean import)."""
    refs.version(store, os.urandom(CHUNK * 2 + 5), "/PS-A1/fir.pdf v1")
    refs.rendition(store, os.urandom(300), "thumbnail of fir.pdf")
    refs.rendition(store, os.urandom(CHUNK + 1), "OCR PDF of fir.pdf")
    events: list[VerifyProgress] = []
    report = store.verify(progress=events.append, references=refs)
    assert report.ok, report.findings
    assert report.unreferenced_chunks == [] and report.unreferenced_chunk_count == 0
    assert report.unreferenced_manifests == []
    assert report.references == 3 and report.broken_references == 0
    total = 3 + 2 + 3 + 1 + 2 + 1  # references, keys, version chunks, manifest, rendition chunks
    assert report.total == report.checked == total
    assert [e.done for e in events] == list(range(1, total + 1))


def test_a_deleted_manifest_is_named_with_the_file_it_breaks(
    store: BlobStore, refs: ListedReferences, blob_root: Path
) -> None:
    mid, _ = refs.version(store, os.urandom(CHUNK), "space 7: /PS-A1/fir.pdf, version 2")
    refs.version(store, os.urandom(CHUNK), "space 7: /PS-A1/other.pdf, version 1")
    (blob_root / names.manifest_name(mid)).unlink()
    report = store.verify(references=refs)
    assert not report.ok
    assert report.findings == [
        Finding(names.manifest_name(mid), "missing", "space 7: /PS-A1/fir.pdf, version 2")
    ]
    assert report.broken_references == 1
    assert "breaks space 7: /PS-A1/fir.pdf, version 2" in str(report.findings[0])


def test_a_deleted_manifest_and_its_chunks_are_each_named(
    store: BlobStore, refs: ListedReferences, blob_root: Path
) -> None:
    label = "space 3: /a.bin, version 1"
    mid, content = refs.version(store, os.urandom(CHUNK * 2 + 1), label)
    (blob_root / names.manifest_name(mid)).unlink()
    for name in chunk_names(content):
        (blob_root / name).unlink()
    report = store.verify(references=refs)
    assert report.findings == [
        Finding(names.manifest_name(mid), "missing", label),
        *(Finding(name, "missing", label) for name in chunk_names(content)),
    ]


def test_all_of_the_data_directory_deleted_breaks_every_file(
    store: BlobStore, refs: ListedReferences, blob_root: Path
) -> None:
    """The attack run's case: ``rm -r blobs/data`` answered "ok" (there was nothing to check)."""
    refs.version(store, os.urandom(CHUNK + 1), "space 1: /one.pdf, version 1")
    refs.version(store, b"two", "space 1: /two.pdf, version 1")
    preview = refs.rendition(store, b"png", "thumbnail of /one.pdf")
    shutil.rmtree(blob_root / "data")
    report = store.verify(references=refs)
    assert not report.ok
    assert report.broken_references == 3
    broken = {(f.object_name.split("/")[1], f.breaks) for f in report.findings}
    assert broken == {
        ("manifests", "space 1: /one.pdf, version 1"),
        ("chunks", "space 1: /one.pdf, version 1"),
        ("manifests", "space 1: /two.pdf, version 1"),
        ("chunks", "space 1: /two.pdf, version 1"),
        ("chunks", "thumbnail of /one.pdf"),
    }
    assert Finding(chunk_names(preview)[0], "missing", "thumbnail of /one.pdf") in report.findings


def test_a_damaged_referenced_chunk_names_the_file(
    store: BlobStore, refs: ListedReferences, blob_root: Path
) -> None:
    _, content = refs.version(store, os.urandom(CHUNK * 2), "space 2: /x, version 1")
    path = blob_root / chunk_names(content)[1]
    blob = bytearray(path.read_bytes())
    blob[50] ^= 0x10
    path.write_bytes(bytes(blob))
    report = store.verify(references=refs)
    reason = "authentication failed (damaged, or not the object of this id)"
    assert Finding(chunk_names(content)[1], reason, "space 2: /x, version 1") in report.findings


def test_a_database_row_disagreeing_with_its_manifest_is_a_problem(
    store: BlobStore, refs: ListedReferences
) -> None:
    mid, content = refs.version(store, b"the real content", "space 1: /a, version 1")
    other = store.put_bytes(b"other")
    refs.items[0] = Reference("version:0", other.chunks, mid, other.size, other.sha256)
    report = store.verify(references=refs)
    [finding] = report.findings
    assert finding.object_name == names.manifest_name(mid)
    assert finding.reason == f"is {content.size} bytes, the database says {other.size}"


def test_unreferenced_manifests_and_chunks_are_listed_not_problems(
    store: BlobStore, refs: ListedReferences
) -> None:
    refs.version(store, b"kept", "space 1: /kept, version 1")
    stray = store.put_bytes(b"an upload whose row was never committed")
    stray_mid = store.write_manifest(stray, FileMetadata(name="s", created_at=datetime.now(UTC)))
    report = store.verify(references=refs)
    assert report.ok
    assert report.unreferenced_manifests == [stray_mid]
    # Its chunk is needed only by that manifest, which nothing needs: garbage with it.
    assert report.unreferenced_chunks == [stray.chunks[0].chunk_id]
    alone = store.put_bytes(b"written, then the process died").chunks[0].chunk_id
    report = store.verify(references=refs)
    assert report.unreferenced_chunks == sorted([alone, stray.chunks[0].chunk_id])
    assert report.unreferenced_chunk_count == 2


def test_findings_beyond_the_limit_are_counted(
    store: BlobStore, refs: ListedReferences, blob_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "MAX_FINDINGS", 3)
    for n in range(4):
        refs.version(store, os.urandom(CHUNK * 2), f"file {n}")
    shutil.rmtree(blob_root / "data")
    report = store.verify(references=refs)
    assert len(report.findings) == 3
    assert report.findings_omitted == 4 * 3 - 3
    assert report.broken_references == 4
    assert not report.ok
