"""Memory and time of ``storage verify``'s cross-check as the number of references grows.

Run by hand, never in CI: ``.venv/bin/python bench/storage_verify.py [--refs 10000 100000 1000000]``

Each size runs in a child process of its own (so peak RSS is that run's alone) over a real store
with a few real files and N synthetic file versions whose manifests and chunks are all missing:
the worst case for the report (every reference is broken, three problems each). It prints, per
size, the wall time and the child's peak RSS; bounded memory means the RSS stays flat while N
grows a hundredfold (the references and objects live in the scratch index on disk).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from polaris.storage import BlobStore, FileMetadata, LocalBackend, create_master_key_file
from polaris.storage.references import Reference
from polaris.storage.refs import ChunkRef
from polaris.storage.verify import verify_store


class SyntheticReferences:
    """N versions of two chunks each, none of them stored."""

    def __init__(self, n: int) -> None:
        self.n = n

    def count(self) -> int:
        return self.n

    def references(self) -> Iterator[Reference]:
        for i in range(self.n):
            ids = [hashlib.sha256(f"{i}:{k}".encode()).hexdigest() for k in range(3)]
            chunks = (ChunkRef(ids[1], 4096), ChunkRef(ids[2], 100))
            yield Reference(f"version:{i}", chunks, ids[0], 4196, ids[0])

    def describe(self, keys: Collection[str]) -> Mapping[str, str]:
        return {key: f"space 1: /file {key}" for key in keys}


def child(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        keyring = create_master_key_file(Path(tmp) / "master.key")
        store = BlobStore.initialise(LocalBackend(Path(tmp) / "blobs"), keyring, chunk_size=4096)
        for i in range(20):
            content = store.put_bytes(bytes([i]) * 10_000)
            store.write_manifest(content, FileMetadata(name=str(i), created_at=datetime.now(UTC)))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        report = verify_store(store, references=SyntheticReferences(n), scratch_dir=Path(tmp))
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert report.broken_references == n
        print(
            f"{n}\t{elapsed:.1f}\t{before / 1024:.0f}\t{peak / 1024:.0f}\t{report.findings_omitted}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    print(
        "| references | seconds | RSS before (MiB) | peak RSS (MiB) | problems counted, not kept |"
    )
    print("|---:|---:|---:|---:|---:|")
    for n in args.refs:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        print(f"| {int(out[0]):,} | {out[1]} | {out[2]} | {out[3]} | {int(out[4]):,} |")


if __name__ == "__main__":
    main()
