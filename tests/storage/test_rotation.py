"""Key rotation: master keys and data keys change, old data stays readable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polaris.errors import IntegrityError
from polaris.storage import (
    BlobStore,
    Keyring,
    LocalBackend,
    MasterKey,
    load_master_key_file,
    names,
    retire_master_key,
    rotate_master_key,
    save_master_key_file,
)
from polaris.storage.keys import master_key_to_base64
from tests.storage.conftest import CHUNK, object_files


def test_master_key_rotation_keeps_old_data_readable(
    store: BlobStore, key_file: Path, blob_root: Path
) -> None:
    old_key = load_master_key_file(key_file).current
    before = os.urandom(CHUNK * 2)
    ref_before = store.put_bytes(before)
    chunk_files = object_files(blob_root, "data/")

    new_key = rotate_master_key(store, key_file)

    on_disk = load_master_key_file(key_file)
    assert on_disk.current == new_key
    assert on_disk.get(old_key.key_id) == old_key
    assert object_files(blob_root, "data/") == chunk_files  # no content was re-encrypted
    assert (blob_root / names.data_key_name(1, new_key.key_id)).exists()
    assert (blob_root / names.dedup_key_name(new_key.key_id)).exists()

    retire_master_key(store, key_file, old_key.key_id)
    only_new = load_master_key_file(key_file)
    assert only_new.ids_hex == [new_key.key_id_hex]
    reopened = BlobStore.open(LocalBackend(blob_root), only_new, chunk_size=CHUNK)
    assert reopened.read_bytes(ref_before) == before
    after = reopened.put_bytes(b"after rotation")
    assert reopened.read_bytes(after) == b"after rotation"
    assert reopened.verify().ok


def test_old_master_key_alone_no_longer_opens_new_data_keys(
    store: BlobStore, key_file: Path, blob_root: Path
) -> None:
    old = load_master_key_file(key_file)
    rotate_master_key(store, key_file)
    store.rotate_data_key()
    new_ref = store.put_bytes(b"sealed under data key 2")
    with pytest.raises(IntegrityError, match="unknown data key 2"):
        BlobStore.open(LocalBackend(blob_root), old).read_bytes(new_ref)


def test_data_key_rotation_keeps_old_chunks_readable(
    store: BlobStore, keyring: Keyring, blob_root: Path
) -> None:
    first = store.put_bytes(b"under data key 1")
    assert store.rotate_data_key() == 2
    second = store.put_bytes(b"under data key 2")
    assert store.rotate_data_key() == 3
    third = store.put_bytes(b"under data key 3")

    def data_key_of(ref_chunk: str) -> int:
        blob = (blob_root / names.chunk_name(ref_chunk)).read_bytes()
        return int.from_bytes(blob[6:14], "big")

    assert [data_key_of(r.chunks[0].chunk_id) for r in (first, second, third)] == [1, 2, 3]
    reopened = BlobStore.open(LocalBackend(blob_root), keyring)
    assert reopened.keys.current_data_key_id == 3
    assert [reopened.read_bytes(r) for r in (first, second, third)] == [
        b"under data key 1",
        b"under data key 2",
        b"under data key 3",
    ]


def test_dedup_survives_rotation(store: BlobStore, key_file: Path, blob_root: Path) -> None:
    before = store.put_bytes(b"same bytes")
    rotate_master_key(store, key_file)
    store.rotate_data_key()
    assert store.put_bytes(b"same bytes") == before
    assert len(object_files(blob_root, "data/chunks/")) == 1


def test_interrupted_rotation_leaves_the_store_readable(
    store: BlobStore, key_file: Path, blob_root: Path
) -> None:
    """The new key was saved and some keys rewrapped, then the process died before step 3."""
    ref = store.put_bytes(b"content")
    old = load_master_key_file(key_file)
    new_key = MasterKey.generate()
    save_master_key_file(key_file, old.with_key(new_key, make_current=False))
    store.keys.rewrap(old.with_key(new_key, make_current=True))  # step 2 done
    (blob_root / names.dedup_key_name(new_key.key_id)).unlink()  # ...but not all of it

    after_crash = BlobStore.open(LocalBackend(blob_root), load_master_key_file(key_file))
    assert after_crash.read_bytes(ref) == b"content"
    rotate_master_key(after_crash, key_file)  # run it again
    assert after_crash.verify().ok


def test_rotation_with_keys_from_the_environment(store: BlobStore, blob_root: Path) -> None:
    ref = store.put_bytes(b"content")
    old = store.keyring.current
    new = MasterKey.generate()
    env = f"{master_key_to_base64(new)},{master_key_to_base64(old)}"

    during = BlobStore.open(LocalBackend(blob_root), Keyring.from_base64(env))
    report = during.verify()
    assert {f.object_name for f in report.findings} == {
        names.data_key_name(1, new.key_id),
        names.dedup_key_name(new.key_id),
    }
    assert during.rewrap_keys() == 2
    assert during.verify().ok

    after = BlobStore.open(LocalBackend(blob_root), Keyring.from_base64(master_key_to_base64(new)))
    assert after.read_bytes(ref) == b"content"
    assert [f.object_name for f in after.verify().unverifiable] == [
        names.data_key_name(1, old.key_id),
        names.dedup_key_name(old.key_id),
    ]


def test_rewrap_refuses_when_a_data_key_is_unreachable(
    store: BlobStore, keyring: Keyring, blob_root: Path
) -> None:
    other = MasterKey.generate()
    store.add_master_key(other)
    store.rotate_data_key()  # data key 2 exists only under `other`
    only_old = BlobStore.open(LocalBackend(blob_root), keyring)
    with pytest.raises(IntegrityError, match="cannot rewrap data key 2"):
        only_old.add_master_key(MasterKey.generate())
    assert only_old.keyring.ids_hex == keyring.ids_hex


def test_a_damaged_wrapping_is_survived_through_another_master_keys_copy(
    store: BlobStore, key_file: Path, blob_root: Path
) -> None:
    ref = store.put_bytes(b"content")
    new_key = rotate_master_key(store, key_file)
    for name in (names.data_key_name(1, new_key.key_id), names.dedup_key_name(new_key.key_id)):
        path = blob_root / name
        data = path.read_bytes()  # flip the last byte (one ending in NUL already must change too)
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))

    both = BlobStore.open(LocalBackend(blob_root), load_master_key_file(key_file))
    assert both.read_bytes(ref) == b"content"
    assert {f.object_name for f in both.verify().findings} == {
        names.data_key_name(1, new_key.key_id),
        names.dedup_key_name(new_key.key_id),
    }
