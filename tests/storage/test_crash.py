"""Failures of the whole process or of the disk itself, in real subprocesses.

A writer killed with SIGKILL mid-write leaves nothing under the final name. The kill is synchronised
through a pipe: the child writes "ready" when it is inside a write and then blocks on stdin, so the
parent knows where it stopped, without sleeping (chunks are stored several at a time, so other
chunks may be whole or half-written beside it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from polaris.storage import BlobStore, LocalBackend, load_master_key_file, names
from polaris.storage.crypto import chunk_id
from polaris.storage.pipeline import WORKERS
from tests.storage.conftest import object_files, temp_files

KILL_CHUNK = 65536
KILL_CHUNKS = 40

WRITER = textwrap.dedent(
    """
    import random, sys
    from datetime import UTC, datetime
    from polaris.storage import BlobStore, FileMetadata, LocalBackend, load_master_key_file, _fsio

    root, key_file, chunk_size, chunks, stop_at = sys.argv[1:6]
    chunk_size, chunks, stop_at = int(chunk_size), int(chunks), int(stop_at)
    keyring = load_master_key_file(key_file)
    store = BlobStore.open(LocalBackend(root), keyring, chunk_size=chunk_size)
    real_write_all = _fsio.write_all
    writes = 0

    def write_all(fd, data):
        global writes
        writes += 1
        if writes == stop_at:
            real_write_all(fd, data[: len(data) // 2])
            print("ready", flush=True)
            sys.stdin.read()  # blocks until the parent kills us
        real_write_all(fd, data)

    _fsio.write_all = write_all
    rng = random.Random(7)
    pieces = (rng.randbytes(chunk_size) for _ in range(chunks))
    content = store.put_stream(pieces)
    store.write_manifest(content, FileMetadata(name="big.bin", created_at=datetime.now(UTC)))
    print("finished", flush=True)
    """
)


def _expected_chunk_ids(store: BlobStore) -> list[str]:
    import random

    rng = random.Random(7)
    return [chunk_id(store.keys.dedup_key, rng.randbytes(KILL_CHUNK)) for _ in range(KILL_CHUNKS)]


@pytest.mark.parametrize("stop_at", [5, KILL_CHUNKS + 1], ids=["in-a-chunk", "in-the-manifest"])
def test_writer_killed_mid_write_leaves_nothing_visible(
    store: BlobStore, blob_root: Path, key_file: Path, tmp_path: Path, stop_at: int
) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(blob_root), str(key_file)]
        + [str(n) for n in (KILL_CHUNK, KILL_CHUNKS, stop_at)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line != b"ready\n":
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"writer did not reach the kill point: {line!r} {err.decode()}")
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL

    expected = _expected_chunk_ids(store)
    left = temp_files(blob_root)
    assert any(p.stat().st_size > 0 for p in left)  # killed mid-write
    if stop_at > KILL_CHUNKS:  # in the manifest: every chunk was stored first
        written = expected
        assert len(left) == 1
    else:
        # Chunks are stored several at a time (storage-format §11a): the writes before the kill
        # point, and at most one more per other pool thread, each whole or not there at all.
        present = {names.parse_chunk_name(name) for name in object_files(blob_root, "data/")}
        assert present <= set(expected)
        assert stop_at - 1 - WORKERS < len(present) <= stop_at - 1 + WORKERS
        assert len(left) <= WORKERS
        written = sorted(c for c in present if c is not None)
    assert sorted(object_files(blob_root, "data/")) == sorted(names.chunk_name(c) for c in written)
    assert list(store.iter_manifest_ids()) == []

    report = BlobStore.open(LocalBackend(blob_root), load_master_key_file(key_file)).verify()
    assert report.ok, report.findings
    assert sorted(report.unreferenced_chunks) == sorted(written)


FULL_DISK = textwrap.dedent(
    """
    import json, os, sys
    from polaris.errors import StorageFull
    from polaris.storage import BlobStore, Keyring, LocalBackend, MasterKey

    root = sys.argv[1]
    store = BlobStore.initialise(LocalBackend(root), Keyring([MasterKey.generate()]),
                                 chunk_size=65536)
    result = {}
    try:
        store.put_bytes(os.urandom(1024 * 1024))
    except StorageFull as exc:
        result["error"] = str(exc)
    result["tmp"] = os.listdir(os.path.join(root, "tmp"))
    result["chunks"] = sum(1 for _ in store.backend.list("data/chunks/"))
    report = store.verify()
    result["verify_ok"] = report.ok
    result["orphans"] = len(report.unreferenced_chunks)
    print(json.dumps(result))
    """
)


def _can_mount_tmpfs() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unprivileged user+mount namespaces")
def test_real_full_disk_on_a_tiny_tmpfs(tmp_path: Path) -> None:
    """A 256 KiB tmpfs in a private mount namespace fills up during a 1 MiB write."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK)
    shell = 'mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" "$3" "$1"'
    done = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", shell, "sh", str(mount_point), sys.executable, str(script)],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    assert "No space left on device" in result["error"]
    assert result["tmp"] == []
    assert 0 < result["chunks"] < 16
    assert result["verify_ok"] is True
    assert result["orphans"] == result["chunks"]
