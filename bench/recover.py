"""Time and peak memory of ``polaris recover`` as the store grows.

Run by hand, never in CI: ``PYTHONPATH=src .venv/bin/python bench/recover.py [--files 2000 20000]``

For each size, a store is written directly through ``BlobStore`` (no database): N files of two
versions each in N/50 folders of 10 parent folders, every folder with a placement record and one
file in ten renamed after its last version (a record of its own). Then ``polaris recover
--in-place`` runs in a child process (so its peak RSS is its own) and the wall time of each stage
is read from its output. The store is used where it is, so the figure is the recovery's own work
(reading, planning, rebuilding, writing records, verifying), not a copy of the store.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from polaris.storage import BlobStore, FileMetadata, LocalBackend, create_master_key_file
from polaris.storage.placement import PlacedSpace, Placement

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPACE = PlacedSpace(id=1, kind="unit", name="PS Kotwali", root_id=1, unit_id=1)


def build(store: BlobStore, files: int) -> None:
    content = store.put_bytes(b"x" * 1000)  # one chunk for all: the bench is about metadata
    folders = max(1, files // 50)
    generation = 0
    for folder in range(folders):
        node_id = 2 + folder
        parent = 1 if folder < 10 else 2 + folder % 10
        generation += 1
        store.write_placement(
            Placement(
                node_id=node_id,
                generation=generation,
                recorded_at=T0,
                kind="folder",
                name=f"folder {folder}",
                parent_id=parent,
                path=f"/folder {folder}",
                space=SPACE,
                classification="unclassified",
                created_at=T0,
            )
        )
    for index in range(files):
        node_id = 2 + folders + index
        parent = 2 + index % folders
        for version in (1, 2):
            meta = FileMetadata(
                name=f"file {index}.txt", created_at=T0 + timedelta(seconds=index * 2 + version),
                path=f"/folder {parent - 2}/file {index}.txt", space_id=1, node_id=node_id,
                version_id=f"{node_id}.{version}", content_type="text/plain",
                classification="unclassified",
                extra={"space": "PS Kotwali", "version": version, "parent_id": parent},
            )  # fmt: skip
            store.write_manifest(content, meta)
        if index % 10 == 0:
            generation += 1
            store.write_placement(
                Placement(
                    node_id=node_id,
                    generation=generation,
                    recorded_at=T0,
                    kind="file",
                    name=f"renamed {index}.txt",
                    parent_id=parent,
                    path="/",
                    space=SPACE,
                    classification="unclassified",
                    created_at=T0,
                )
            )


def run(files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "master.key"
        store = BlobStore.initialise(LocalBackend(Path(tmp) / "blobs"), create_master_key_file(key))
        started = time.perf_counter()
        build(store, files)
        built = time.perf_counter() - started
        command = [
            sys.executable, "-m", "polaris.cli.main", "recover",
            "--blobs", str(Path(tmp) / "blobs"), "--target", str(Path(tmp) / "new"),
            "--master-key-file", str(key), "--in-place",
        ]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        line = next((x for x in result.stdout.splitlines() if x.startswith("recovered")), "?")
        print(
            f"{files:>7} files, {2 * files:>7} versions: store written in {built:6.1f} s; "
            f"recover {elapsed:6.1f} s, peak RSS {peak:6.0f} MiB (exit {result.returncode})"
        )
        print(f"         {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, nargs="+", default=[2000, 20000])
    for files in parser.parse_args().files:
        run(files)


if __name__ == "__main__":
    main()
