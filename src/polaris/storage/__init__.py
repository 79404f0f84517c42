"""The encrypted, deduplicating, content-addressed blob store (DESIGN §5, docs/storage-format.md).

Typical use::

    keyring = load_master_key_file(settings.resolved_master_key_file)
    store = BlobStore.open(open_backend(settings), keyring,   # polaris.storage.backends
                           chunk_size=settings.storage.chunk_size)
    content = store.put_stream(upload)              # 1. chunks durable
    manifest_id = store.write_manifest(content, m)  # 2. manifest durable
    ...                                             # 3. only then the database row
    for piece in store.read_range(content, 0, 1024): ...
"""

from __future__ import annotations

from polaris.storage.backend import Backend, ObjectNotFound, ObjectTooLargeError
from polaris.storage.keys import (
    KeyFileError,
    Keyring,
    MasterKey,
    create_master_key_file,
    load_master_key_file,
    master_key_from_base64,
    save_master_key_file,
)
from polaris.storage.local import LocalBackend
from polaris.storage.manifest import FileMetadata, Manifest
from polaris.storage.refs import ChunkRef, ContentRef
from polaris.storage.rotation import retire_master_key, rotate_master_key
from polaris.storage.store import DEFAULT_CHUNK_SIZE, BlobStore
from polaris.storage.verify import Finding, VerifyProgress, VerifyReport

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Backend",
    "BlobStore",
    "ChunkRef",
    "ContentRef",
    "FileMetadata",
    "Finding",
    "KeyFileError",
    "Keyring",
    "LocalBackend",
    "Manifest",
    "MasterKey",
    "ObjectNotFound",
    "ObjectTooLargeError",
    "VerifyProgress",
    "VerifyReport",
    "create_master_key_file",
    "load_master_key_file",
    "master_key_from_base64",
    "retire_master_key",
    "rotate_master_key",
    "save_master_key_file",
]
