"""Manifests: authenticated, canonical, and enough to rebuild every file without the database."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from polaris.errors import IntegrityError
from polaris.storage import (
    BlobStore,
    FileMetadata,
    LocalBackend,
    Manifest,
    load_master_key_file,
    names,
)
from tests.storage.conftest import CHUNK

WHEN = datetime(2025, 7, 1, 10, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def metadata(name: str = "प्राथमिकी 123-2025.pdf", **extra: object) -> FileMetadata:
    return FileMetadata(
        name=name,
        created_at=WHEN,
        path=f"/PS Kotwali/FIR/{name}",
        space_id=7,
        node_id=1234,
        version_id="v-0001",
        content_type="application/pdf",
        classification="Confidential",
        extra=extra,
    )


def test_write_and_read_back(store: BlobStore) -> None:
    ref = store.put_bytes(os.urandom(CHUNK * 2 + 3))
    meta = metadata(fir={"number": 123, "year": 2025})
    mid = store.write_manifest(ref, meta)
    manifest = store.read_manifest(mid)
    assert manifest == Manifest(manifest_id=mid, content=ref, metadata=manifest.metadata)
    assert manifest.metadata.to_dict() == meta.to_dict()
    assert manifest.metadata.created_at == WHEN
    assert manifest.metadata.created_at.tzinfo == UTC
    assert manifest.metadata.extra == {"fir": {"number": 123, "year": 2025}}


def test_same_version_same_id_and_one_object(store: BlobStore, blob_root: Path) -> None:
    ref = store.put_bytes(b"content")
    assert store.write_manifest(ref, metadata()) == store.write_manifest(ref, metadata())
    assert store.write_manifest(ref, metadata("other.pdf")) != store.write_manifest(ref, metadata())
    assert len(list(store.iter_manifest_ids())) == 2


def test_metadata_must_be_json_and_timezone_aware(store: BlobStore) -> None:
    ref = store.put_bytes(b"x")
    with pytest.raises(ValueError, match="timezone-aware"):
        FileMetadata(name="a", created_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="JSON"):
        store.write_manifest(ref, metadata(bad=object()))


def test_damaged_manifest_is_named(store: BlobStore, blob_root: Path) -> None:
    mid = store.write_manifest(store.put_bytes(b"x"), metadata())
    path = blob_root / names.manifest_name(mid)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match=f"manifest {mid}: authentication failed"):
        store.read_manifest(mid)
    skipped: list[str] = []
    assert list(store.iter_manifests(on_error=lambda m, e: skipped.append(m))) == []
    assert skipped == [mid]
    with pytest.raises(IntegrityError):
        list(store.iter_manifests())


def test_recovery_without_the_database(store: BlobStore, blob_root: Path, key_file: Path) -> None:
    """With only the blob directory and the master key file, every file comes back, in place."""
    originals = {f"file-{i}.txt": os.urandom(i * 700) for i in range(5)}
    for name, data in originals.items():
        store.write_manifest(store.put_bytes(data), metadata(name))

    survivor = BlobStore.open(LocalBackend(blob_root), load_master_key_file(key_file))
    recovered = {
        m.metadata.path: b"".join(survivor.open_stream(m.content))
        for m in survivor.iter_manifests()
    }
    assert recovered == {f"/PS Kotwali/FIR/{n}": data for n, data in originals.items()}


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"\xff", "not valid UTF-8 JSON"),
        (b"[]", "not a JSON object"),
        (b'{"format":2}', "unsupported manifest format 2"),
        (b'{"format":1,"size":1,"sha256":"00","chunks":[]}', "malformed manifest"),
        (b'{"format":1,"size":0,"chunks":[],"metadata":{}}', "malformed manifest"),
    ],
)
def test_malformed_manifest_plaintext_is_named(plaintext: bytes, reason: str) -> None:
    from polaris.storage.crypto import SealError
    from polaris.storage.manifest import decode_manifest

    with pytest.raises(SealError, match=reason):
        decode_manifest("0" * 64, plaintext)


def test_content_refs_are_validated() -> None:
    from polaris.storage import ChunkRef, ContentRef

    good = ChunkRef("a" * 64, 10)
    with pytest.raises(ValueError, match="sum"):
        ContentRef(chunks=(good,), size=11, sha256="0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        ContentRef(chunks=(good,), size=10, sha256="X" * 64)
    with pytest.raises(ValueError, match="chunk id"):
        ChunkRef("../" + "a" * 61, 10)
    with pytest.raises(ValueError, match="invalid size"):
        ChunkRef("a" * 64, 0)
    ref = ContentRef(chunks=(good,), size=10, sha256="0" * 64)
    assert ContentRef.from_dict(ref.to_dict()) == ref
    with pytest.raises(ValueError, match="malformed"):
        ContentRef.from_dict({"chunks": [["a" * 64]], "size": 10, "sha256": "0" * 64})
