"""A scratch index on disk for verify and garbage collection, so memory stays bounded.

Cross-checking a store against the database means joining every listed object with every
reference: ten million chunks and millions of versions do not fit in sets in memory. They go into
a throwaway SQLite database in a temporary directory instead (the standard library's ``sqlite3``;
no journal, no fsync: it is rebuilt by every run) and are joined there.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from polaris.storage.references import Reference

_BATCH = 2000
_SCHEMA = """
CREATE TABLE chunk (id BLOB PRIMARY KEY, size INTEGER, problem TEXT, stored_size INTEGER,
                    modified_at REAL) WITHOUT ROWID;
CREATE TABLE manifest (id BLOB PRIMARY KEY, problem TEXT, size INTEGER, sha256 TEXT,
                       stored_size INTEGER, modified_at REAL, chunk_problems TEXT) WITHOUT ROWID;
CREATE TABLE manifest_chunk (manifest_id BLOB, chunk_id BLOB);
CREATE TABLE ref (id INTEGER PRIMARY KEY, key TEXT, manifest_id BLOB, size INTEGER, sha256 TEXT);
CREATE TABLE ref_chunk (ref INTEGER, position INTEGER, chunk_id BLOB, size INTEGER);
"""
_INDEXES = """
CREATE INDEX IF NOT EXISTS ix_manifest_chunk ON manifest_chunk (chunk_id, manifest_id);
CREATE INDEX IF NOT EXISTS ix_ref_manifest ON ref (manifest_id);
CREATE INDEX IF NOT EXISTS ix_ref_chunk ON ref_chunk (chunk_id);
"""


class ScratchIndex:
    """Objects and references of one run. Ids are stored as 32 raw bytes."""

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="polaris-index-", dir=directory)
        self.db = sqlite3.connect(Path(self._dir.name) / "index.db", isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;"
            "PRAGMA cache_size=-16000;" + _SCHEMA
        )
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._next_ref = 0

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()

    def __enter__(self) -> ScratchIndex:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Writing (batched; :meth:`flush` before reading)

    _INSERTS: ClassVar[dict[str, str]] = {
        "chunk": "INSERT OR REPLACE INTO chunk VALUES (?, ?, ?, ?, ?)",
        "manifest": "INSERT OR REPLACE INTO manifest VALUES (?, ?, ?, ?, ?, ?, ?)",
        "manifest_chunk": "INSERT INTO manifest_chunk VALUES (?, ?)",
        "ref": "INSERT INTO ref VALUES (?, ?, ?, ?, ?)",
        "ref_chunk": "INSERT INTO ref_chunk VALUES (?, ?, ?, ?)",
    }

    def _add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self._pending.setdefault(table, [])
        rows.append(row)
        if len(rows) >= _BATCH:
            self._write(table)

    def _write(self, table: str) -> None:
        rows = self._pending.pop(table, [])
        if rows:
            self.db.execute("BEGIN")
            self.db.executemany(self._INSERTS[table], rows)
            self.db.execute("COMMIT")

    def flush(self) -> None:
        for table in list(self._pending):
            self._write(table)
        self.db.executescript(_INDEXES)

    def add_chunk(
        self,
        chunk_id: str,
        *,
        size: int | None = None,
        problem: str | None = None,
        stored_size: int | None = None,
        modified_at: float | None = None,
    ) -> None:
        self._add("chunk", (bytes.fromhex(chunk_id), size, problem, stored_size, modified_at))

    def add_manifest(
        self,
        manifest_id: str,
        *,
        problem: str | None = None,
        size: int | None = None,
        sha256: str | None = None,
        stored_size: int | None = None,
        modified_at: float | None = None,
        chunk_problems: str | None = None,
    ) -> None:
        """``chunk_problems``: what is wrong with the chunks it names (the manifest is intact)."""
        row = (
            bytes.fromhex(manifest_id),
            problem,
            size,
            sha256,
            stored_size,
            modified_at,
            chunk_problems,
        )
        self._add("manifest", row)

    def add_manifest_chunks(self, manifest_id: str, chunk_ids: Iterable[str]) -> None:
        mid = bytes.fromhex(manifest_id)
        for chunk_id in set(chunk_ids):
            self._add("manifest_chunk", (mid, bytes.fromhex(chunk_id)))

    def add_reference(self, reference: Reference) -> None:
        self._next_ref += 1
        mid = bytes.fromhex(reference.manifest_id) if reference.manifest_id else None
        self._add("ref", (self._next_ref, reference.key, mid, reference.size, reference.sha256))
        for position, chunk in enumerate(reference.chunks):
            row = (self._next_ref, position, bytes.fromhex(chunk.chunk_id), chunk.size)
            self._add("ref_chunk", row)

    def chunk_states(self, chunk_ids: list[str]) -> dict[str, tuple[int | None, str | None]]:
        """(size, problem) of each listed chunk among ``chunk_ids``; absent ones are missing."""
        self._write("chunk")
        found: dict[str, tuple[int | None, str | None]] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = [bytes.fromhex(c) for c in chunk_ids[start : start + 500]]
            marks = ",".join("?" * len(batch))
            query = f"SELECT id, size, problem FROM chunk WHERE id IN ({marks})"  # noqa: S608
            for cid, size, problem in self.db.execute(query, batch):
                found[cid.hex()] = (size, problem)
        return found

    # Reading

    def rows(self, query: str, *params: Any) -> Iterator[tuple[Any, ...]]:
        yield from self.db.execute(query, params)

    def scalar(self, query: str, *params: Any) -> Any:
        row = self.db.execute(query, params).fetchone()
        return None if row is None else row[0]
