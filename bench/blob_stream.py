"""Throughput of the blob store alone: one large content written and read back, no HTTP.

Run by hand (never in CI), from the repository root:

    PYTHONPATH=src .venv/bin/python bench/blob_stream.py                 # 512 MiB, 3 rounds
    PYTHONPATH=/elsewhere/src .venv/bin/python bench/blob_stream.py      # another checkout

It writes `--size-mib` of random bytes through `BlobStore.writer()` in 256 KiB pieces (what an
HTTP body brings), as the upload routes do, then reads them back with `read_range` (what a
download does), into a fresh local store in a temp dir (`--tmp`), encryption on, 4 MiB chunks.
Each round writes new content (so dedup never skips work); the figure is the best round. This
isolates the store's own work (SHA-256, HMAC, AES-GCM, fsync, copies) from the web server and
the client, which `bench/transfer.py` measures together. CPU is given per GiB for the whole
process and for the calling thread alone: what runs elsewhere ran in the chunk pool, and on a
machine with idle cores overlaps the calling thread's share.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from polaris.storage import BlobStore, Keyring, LocalBackend, MasterKey

MIB = 1 << 20
PIECE = 256 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tmp", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="polaris-bench-blob-", dir=args.tmp))
    try:
        store = BlobStore.initialise(LocalBackend(root), Keyring([MasterKey.generate()]))
        pieces = [os.urandom(PIECE) for _ in range(16)]
        size = args.size_mib * MIB
        ups: list[float] = []
        downs: list[float] = []
        cpu_up = cpu_down = own_up = own_down = 0.0
        for number in range(args.rounds):
            salt = os.urandom(16)  # new content each round
            started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
            writer = store.writer()
            written = 0
            while written < size:
                piece = pieces[(written // PIECE) % len(pieces)]
                writer.write(salt + piece[16:] if written % (4 * MIB) == 0 else piece)
                written += PIECE
            content = writer.finish()
            ups.append(size / (time.perf_counter() - started) / 1e6)
            cpu_up += time.process_time() - cpu
            own_up += time.thread_time() - own
            started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
            received = sum(len(part) for part in store.read_range(content, 0, content.size))
            downs.append(size / (time.perf_counter() - started) / 1e6)
            cpu_down += time.process_time() - cpu
            own_down += time.thread_time() - own
            assert received == size
            print(f"round {number + 1}: write {ups[-1]:.0f} MB/s, read {downs[-1]:.0f} MB/s",
                  file=sys.stderr)  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        gib = size * args.rounds / (1 << 30)
        print(f"{args.size_mib} MiB, best of {args.rounds}: write {max(ups):.0f} MB/s "
              f"({cpu_up / gib:.2f} CPU s/GiB, {own_up / gib:.2f} on the calling thread), "
              f"read {max(downs):.0f} MB/s ({cpu_down / gib:.2f} CPU s/GiB, "
              f"{own_down / gib:.2f} on the calling thread); peak RSS {peak:.0f} MiB; "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
