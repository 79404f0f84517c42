"""verify: every object re-read and authenticated; problems named; progress for a progress bar."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from polaris.storage import BlobStore, FileMetadata, Finding, VerifyProgress, names
from tests.storage.conftest import CHUNK, RawObjects

BACKENDS = ["local", "s3"]

AUTH_FAILED = "authentication failed (damaged, or not the object of this id)"


def _file(store: BlobStore, data: bytes, name: str) -> tuple[str, list[str]]:
    ref = store.put_bytes(data)
    mid = store.write_manifest(ref, FileMetadata(name=name, created_at=datetime.now(UTC)))
    return mid, [c.chunk_id for c in ref.chunks]


def test_clean_store_with_progress(store: BlobStore) -> None:
    _file(store, os.urandom(CHUNK * 3), "a")
    _file(store, os.urandom(10), "b")
    events: list[VerifyProgress] = []
    report = store.verify(progress=events.append)
    assert report.ok
    assert report.findings == [] and report.unreferenced_chunks == []
    total = 2 + 4 + 2  # two key wrappings, four chunks, two manifests
    assert report.total == report.checked == total
    assert [e.done for e in events] == list(range(1, total + 1))
    assert {e.total for e in events} == {total}
    assert all(e.ok for e in events)


def test_corrupted_chunk_is_reported_with_the_files_it_breaks(
    store: BlobStore, raw: RawObjects
) -> None:
    mid, chunks = _file(store, os.urandom(CHUNK * 2), "report.pdf")
    name = names.chunk_name(chunks[1])
    blob = bytearray(raw.read(name))
    blob[100] ^= 0xFF
    raw.write(name, bytes(blob))

    events: list[VerifyProgress] = []
    report = store.verify(progress=events.append)
    assert not report.ok
    assert report.findings == [
        Finding(
            names.chunk_name(chunks[1]),
            AUTH_FAILED,
        ),
        Finding(names.manifest_name(mid), f"references damaged chunk {chunks[1]}"),
    ]
    assert [e.object_name for e in events if not e.ok] == [f.object_name for f in report.findings]


def test_missing_referenced_chunk_and_orphan_chunk(store: BlobStore, raw: RawObjects) -> None:
    mid, chunks = _file(store, os.urandom(CHUNK + 5), "a")
    orphan = store.put_bytes(b"uploaded, but the manifest was never written").chunks[0].chunk_id
    raw.delete(names.chunk_name(chunks[0]))

    report = store.verify()
    assert report.findings == [
        Finding(names.manifest_name(mid), f"references missing chunk {chunks[0]}")
    ]
    assert report.unreferenced_chunks == [orphan]


def test_damaged_manifest_and_key_and_stray_object(store: BlobStore, raw: RawObjects) -> None:
    mid, _ = _file(store, b"content", "a")
    manifest = names.manifest_name(mid)
    raw.write(manifest, raw.read(manifest)[:-3])
    key_name = names.data_key_name(1, store.keyring.current.key_id)
    key_blob = bytearray(raw.read(key_name))
    key_blob[-1] ^= 1
    raw.write(key_name, bytes(key_blob))
    raw.write("data/chunks/zz/stray", b"?")

    report = store.verify()
    assert {str(f) for f in report.findings} == {
        f"{key_name}: {AUTH_FAILED}",
        f"{names.manifest_name(mid)}: {AUTH_FAILED}",
        "data/chunks/zz/stray: unexpected object (not a key, chunk, manifest or placement name)",
    }
    assert report.checked == report.total


def test_chunk_size_disagreeing_with_the_manifest(store: BlobStore) -> None:
    ref = store.put_bytes(b"x" * 100)
    cid = ref.chunks[0].chunk_id
    other = store.put_bytes(b"y" * 50)
    # A manifest whose chunk list is wrong (a writer bug): sealed with the real keys.
    from polaris.storage.refs import ChunkRef, ContentRef

    wrong = ContentRef(chunks=(ChunkRef(cid, 50),), size=50, sha256=other.sha256)
    mid = store.write_manifest(wrong, FileMetadata(name="w", created_at=datetime.now(UTC)))
    report = store.verify()
    assert report.findings == [
        Finding(names.manifest_name(mid), f"chunk {cid} is 100 bytes, the manifest says 50")
    ]
