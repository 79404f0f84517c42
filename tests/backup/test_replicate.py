"""Blob replication on real backends: a local directory as the store, a directory (and once a
SeaweedFS bucket) as the target. What can fail: an object left behind, one copied twice or
re-encrypted, a target object replaced or deleted, a watermark advanced past a failed pass."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from polaris.backup.replicate import BlobReplicator, blob_status
from polaris.config import S3Settings
from polaris.errors import StorageFailure
from polaris.storage import BlobStore, FileMetadata, Keyring, LocalBackend, names
from polaris.storage.backend import Backend
from polaris.storage.keys import create_master_key_file, load_master_key_file
from polaris.storage.refs import ContentRef
from tests.storage.conftest import CountingBackend, object_files

CHUNK = 1024


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    create_master_key_file(tmp_path / "master.key")
    return load_master_key_file(tmp_path / "master.key")


@pytest.fixture
def source(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "blobs")


@pytest.fixture
def store(source: LocalBackend, keyring: Keyring) -> BlobStore:
    return BlobStore.initialise(source, keyring, chunk_size=CHUNK)


def add_file(store: BlobStore, data: bytes) -> tuple[ContentRef, str]:
    content = store.put_bytes(data)
    mid = store.write_manifest(content, FileMetadata(name="f", created_at=datetime.now(UTC)))
    return content, mid


def age_everything(root: Path, seconds: float) -> None:
    """Make every object look ``seconds`` old (as if written long before)."""
    past = time.time() - seconds
    for name in object_files(root):
        os.utime(root / name, (past, past))


def replicator(source: Backend, target: Backend, tmp_path: Path) -> BlobReplicator:
    return BlobReplicator(source, target, state_dir=tmp_path / "state", overlap_seconds=60)


def test_the_first_pass_copies_every_object_byte_for_byte(
    store: BlobStore, source: LocalBackend, keyring: Keyring, tmp_path: Path
) -> None:
    content, mid = add_file(store, os.urandom(3 * CHUNK + 17))
    target = LocalBackend(tmp_path / "backup")
    report = replicator(source, target, tmp_path).run_pass()
    assert report.full
    stored = object_files(source.root)
    assert any(name.startswith("keys/") for name in stored)
    assert object_files(target.root) == stored
    assert report.copied == len(stored)
    for name in stored:
        assert target.get(name) == source.get(name)  # the sealed bytes, not re-encrypted
    # The target is a store of its own: the same master key reads the file back.
    copy = BlobStore.open(target, keyring, chunk_size=CHUNK)
    assert copy.read_bytes(content) == store.read_bytes(content)
    assert copy.read_manifest(mid).content == content


def test_an_incremental_pass_looks_at_new_objects_only(
    store: BlobStore, source: LocalBackend, tmp_path: Path
) -> None:
    add_file(store, os.urandom(2 * CHUNK))
    age_everything(source.root, 3600)
    target = CountingBackend(LocalBackend(tmp_path / "backup"))
    first = replicator(source, target, tmp_path).run_pass()
    before = set(object_files(source.root))
    add_file(store, os.urandom(2 * CHUNK))
    new = set(object_files(source.root)) - before
    assert len(new) == 3  # two chunks and a manifest
    target.calls.clear()
    second = replicator(source, target, tmp_path).run_pass()
    assert not second.full
    assert second.listed == first.listed + 3
    assert second.checked == 3 and second.copied == 3
    assert target.calls["exists"] == 3 and target.calls["scan"] == 0
    assert set(object_files(tmp_path / "backup")) == before | new


def test_a_full_pass_finds_what_an_incremental_pass_cannot_see(
    store: BlobStore, source: LocalBackend, tmp_path: Path
) -> None:
    _content, mid = add_file(store, os.urandom(CHUNK))
    target = LocalBackend(tmp_path / "backup")
    replicator(source, target, tmp_path).run_pass()
    (target.root / names.manifest_name(mid)).unlink()  # lost at the target, say
    age_everything(source.root, 3600)
    assert replicator(source, target, tmp_path).run_pass().copied == 0
    full = replicator(source, target, tmp_path).run_pass(full=True)
    assert full.copied == 1
    assert target.get(names.manifest_name(mid)) == source.get(names.manifest_name(mid))


def test_the_target_is_never_overwritten_nor_pruned(
    store: BlobStore, source: LocalBackend, tmp_path: Path
) -> None:
    content, mid = add_file(store, os.urandom(2 * CHUNK))
    target = LocalBackend(tmp_path / "backup")
    replicator(source, target, tmp_path).run_pass()
    # Garbage collection removes the manifest from the store: the backup keeps it.
    manifest = names.manifest_name(mid)
    assert source.remove_unless_reused(manifest, time.time() + 1)
    # Someone damages a chunk at the target: reported, never replaced by the replicator.
    chunk = names.chunk_name(content.chunks[0].chunk_id)
    (target.root / chunk).write_bytes(b"planted")
    report = replicator(source, target, tmp_path).run_pass(full=True)
    assert report.differing == 1 and report.differing_names == [chunk]
    assert target.exists(manifest)
    assert (target.root / chunk).read_bytes() == b"planted"


class FailingPuts(CountingBackend):
    """A real target whose writes fail (a full disk, a store that went away)."""

    def put(self, name: str, data: bytes) -> bool:
        raise StorageFailure(f"writing {name}: target unreachable")


def test_a_failed_pass_keeps_the_watermark_and_shows_the_lag(
    store: BlobStore, source: LocalBackend, tmp_path: Path
) -> None:
    add_file(store, os.urandom(CHUNK))
    target = LocalBackend(tmp_path / "backup")
    good = replicator(source, target, tmp_path).run_pass()
    status = blob_status(tmp_path / "state")
    assert status.covered_at == good.started_at and status.last_error is None
    add_file(store, os.urandom(CHUNK))
    with pytest.raises(StorageFailure):
        replicator(source, FailingPuts(target), tmp_path).run_pass()
    failed = blob_status(tmp_path / "state")
    assert failed.covered_at == good.started_at
    assert failed.last_error is not None and "target unreachable" in failed.last_error
    assert failed.lag(good.started_at + 90) == 90
    again = replicator(source, target, tmp_path).run_pass()
    assert again.copied == 2 and blob_status(tmp_path / "state").last_error is None


def test_the_target_can_be_an_s3_bucket(
    store: BlobStore,
    source: LocalBackend,
    keyring: Keyring,
    s3_settings: S3Settings,
    tmp_path: Path,
) -> None:
    from polaris.storage.s3 import S3Backend

    content, _mid = add_file(store, os.urandom(2 * CHUNK + 5))
    target = S3Backend(s3_settings)
    report = replicator(source, target, tmp_path).run_pass()
    assert sorted(target.list()) == object_files(source.root)
    assert report.copied == len(object_files(source.root))
    assert BlobStore.open(target, keyring, chunk_size=CHUNK).read_bytes(content) == (
        store.read_bytes(content)
    )
    assert replicator(source, target, tmp_path).run_pass(full=True).copied == 0
