"""docs/storage-format.md checked against the bytes, by an independent reader written from it.

Nothing here uses the storage package to *read*: if the code and the document drift apart, this
fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from polaris.storage import BlobStore, FileMetadata, Keyring
from tests.storage.conftest import CHUNK


def _open(blob: bytes, key: bytes, object_id: str, kind: int) -> tuple[bytes, bytes]:
    """§4: header fields, then AES-256-GCM with AAD = header ‖ object id."""
    magic, version, found_kind, key_id, nonce = struct.unpack(">4sBB8s12s", blob[:26])
    assert (magic, version, found_kind) == (b"PLRS", 1, kind)
    return key_id, AESGCM(key).decrypt(nonce, blob[26:], blob[:26] + object_id.encode("ascii"))


def test_key_file_layout(key_file: Path, keyring: Keyring) -> None:
    data = key_file.read_bytes()
    assert len(data) == 18 + 40 + 32
    assert data[:10] == b"PLRSKEYS\x01\x01"
    key_id, secret = data[18:26], data[26:58]
    assert data[10:18] == key_id
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]
    assert key_id == hmac.new(secret, b"polaris master key id v1", hashlib.sha256).digest()[:8]
    assert secret == keyring.current.secret


def test_a_file_recovered_by_following_the_document(
    store: BlobStore, key_file: Path, blob_root: Path
) -> None:
    content = "प्राथमिकी ".encode() * 300
    meta = FileMetadata(name="fir.txt", created_at=datetime(2025, 7, 1, tzinfo=UTC), node_id=9)
    manifest_id = store.write_manifest(store.put_bytes(content), meta)

    master_id, master = key_file.read_bytes()[18:26], key_file.read_bytes()[26:58]
    dedup_blob = (blob_root / "keys" / "dedup" / master_id.hex()).read_bytes()
    assert len(dedup_blob) == 74
    assert _open(dedup_blob, master, "dedup-key", 4)[0] == master_id
    dedup = _open(dedup_blob, master, "dedup-key", 4)[1]
    data_key_blob = (blob_root / "keys" / "data" / f"{1:016x}.{master_id.hex()}").read_bytes()
    data_key = _open(data_key_blob, master, f"data-key/{1:016x}", 3)[1]

    manifest_blob = (blob_root / "data" / "manifests" / manifest_id[:2] / manifest_id).read_bytes()
    key_id, plaintext = _open(manifest_blob, data_key, manifest_id, 2)
    assert int.from_bytes(key_id, "big") == 1
    expected_id = hmac.new(dedup, b"polaris-manifest\x00" + plaintext, hashlib.sha256).hexdigest()
    assert expected_id == manifest_id
    document = json.loads(plaintext)
    assert (
        plaintext
        == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert document["format"] == 1
    assert document["metadata"]["name"] == "fir.txt"
    assert document["metadata"]["created_at"] == "2025-07-01T00:00:00+00:00"
    assert set(document["metadata"]) == {
        "path", "name", "space_id", "node_id", "version_id",
        "created_at", "content_type", "classification", "extra",
    }  # fmt: skip

    pieces = []
    for chunk_id, size in document["chunks"]:
        blob = (blob_root / "data" / "chunks" / chunk_id[:2] / chunk_id).read_bytes()
        assert len(blob) == size + 42
        piece = _open(blob, data_key, chunk_id, 1)[1]
        assert hmac.new(dedup, piece, hashlib.sha256).hexdigest() == chunk_id
        pieces.append(piece)
    assert [size for _, size in document["chunks"]][:-1] == [CHUNK] * (len(pieces) - 1)
    assert b"".join(pieces) == content
    assert hashlib.sha256(content).hexdigest() == document["sha256"]
    assert document["size"] == len(content)
