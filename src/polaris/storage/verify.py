"""Re-read and authenticate every object in a blob store, and report what is wrong.

Order: keys, then chunks, then manifests, so that a manifest can be told which of its chunks are
missing or damaged. Memory grows with the number of chunks (about 100 bytes per chunk for the set of
ids), not with their size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from polaris.errors import IntegrityError, StorageFailure
from polaris.storage import names
from polaris.storage.backend import ObjectNotFound
from polaris.storage.crypto import SealError
from polaris.storage.keystore import WRAPPED_KEY_SIZE

if TYPE_CHECKING:
    from polaris.storage.store import BlobStore


@dataclass(frozen=True)
class Finding:
    """One problem: the object's name and what is wrong with it."""

    object_name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.object_name}: {self.reason}"


@dataclass(frozen=True)
class VerifyProgress:
    """Sent after each object: ``done`` of ``total`` checked, the last one ``object_name``."""

    done: int
    total: int
    object_name: str
    ok: bool


ProgressCallback = Callable[[VerifyProgress], None]


@dataclass
class VerifyReport:
    """``ok`` when there are no findings.

    ``orphan_chunks`` (referenced by no manifest) are not problems: an interrupted upload leaves
    them, and garbage collection removes them after the retention period. ``unverifiable`` lists key
    wrappings under master keys this keyring does not hold (e.g. retired ones).
    """

    total: int = 0
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    orphan_chunks: list[str] = field(default_factory=list)
    unverifiable: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class _Run:
    def __init__(self, store: BlobStore, progress: ProgressCallback | None) -> None:
        self.store = store
        self.progress = progress
        self.report = VerifyReport()
        self.chunk_sizes: dict[bytes, int] = {}
        self.damaged_chunks: set[bytes] = set()
        self.referenced: set[bytes] = set()

    def step(self, name: str, reason: str | None) -> None:
        if reason is not None:
            self.report.findings.append(Finding(name, reason))
        self.report.checked += 1
        if self.progress is not None:
            self.progress(
                VerifyProgress(self.report.checked, self.report.total, name, reason is None)
            )

    def count(self) -> list[str]:
        """Count every object (for the progress total); return the names of unexpected ones."""
        unexpected: list[str] = []
        for name in self.store.backend.list(""):
            self.report.total += 1
            if not _is_known(name):
                unexpected.append(name)
        return unexpected

    def keys(self) -> None:
        keystore = self.store.keys
        keyring = keystore.keyring
        current = keyring.current.key_id
        wrapped_under_current: set[str] = set()
        for name in self.store.backend.list(names.KEYS):
            data_key = names.parse_data_key_name(name)
            dedup_master = names.parse_dedup_key_name(name)
            master_id = data_key[1] if data_key else dedup_master
            if master_id is None:
                continue
            if keyring.get(master_id) is None:
                reason = f"wrapped under master key {master_id.hex()}, not in the keyring"
                self.report.unverifiable.append(Finding(name, reason))
                self.step(name, None)
                continue
            self.step(name, self._check_key(name, data_key))
            if master_id == current:
                wrapped_under_current.add("dedup" if data_key is None else str(data_key[0]))
        missing = "missing: every key must be wrapped under the current master key (run rewrap)"
        for data_key_id in sorted(keystore.data_key_ids()):
            if str(data_key_id) not in wrapped_under_current:
                name = names.data_key_name(data_key_id, current)
                self.report.findings.append(Finding(name, missing))
        if "dedup" not in wrapped_under_current:
            self.report.findings.append(Finding(names.dedup_key_name(current), missing))

    def _check_key(self, name: str, data_key: tuple[int, bytes] | None) -> str | None:
        keystore = self.store.keys
        try:
            blob = self.store.backend.get(name, max_size=WRAPPED_KEY_SIZE)
            key = keystore.unwrap(name, blob)
            expected = keystore.dedup_key if data_key is None else keystore.data_key(data_key[0])
        except ObjectNotFound:
            return "missing (removed while verify ran)"
        except IntegrityError as exc:
            return exc.detail.removeprefix(f"{name}: ")
        except SealError as exc:
            return exc.reason
        except StorageFailure as exc:
            return f"read error: {exc.detail}"
        if key != expected:
            return "differs from the same key's other wrapping"
        return None

    def chunks(self) -> None:
        for name in self.store.backend.list(names.CHUNKS):
            cid = names.parse_chunk_name(name)
            if cid is None:
                continue
            try:
                size = len(self.store.open_chunk(cid))
            except SealError as exc:
                self.damaged_chunks.add(bytes.fromhex(cid))
                self.step(name, exc.reason)
            except StorageFailure as exc:
                self.damaged_chunks.add(bytes.fromhex(cid))
                self.step(name, f"read error: {exc.detail}")
            else:
                self.chunk_sizes[bytes.fromhex(cid)] = size
                self.step(name, None)

    def manifests(self) -> None:
        for name in self.store.backend.list(names.MANIFESTS):
            mid = names.parse_manifest_name(name)
            if mid is None:
                continue
            try:
                manifest = self.store.open_manifest(mid)
            except SealError as exc:
                self.step(name, exc.reason)
                continue
            except StorageFailure as exc:
                self.step(name, f"read error: {exc.detail}")
                continue
            problems: list[str] = []
            for chunk in manifest.content.chunks:
                key = bytes.fromhex(chunk.chunk_id)
                self.referenced.add(key)
                actual = self.chunk_sizes.get(key)
                if key in self.damaged_chunks:
                    problems.append(f"references damaged chunk {chunk.chunk_id}")
                elif actual is None:
                    problems.append(f"references missing chunk {chunk.chunk_id}")
                elif actual != chunk.size:
                    problems.append(
                        f"chunk {chunk.chunk_id} is {actual} bytes, the manifest says {chunk.size}"
                    )
            self.step(name, "; ".join(problems) if problems else None)

    def orphans(self) -> None:
        self.report.orphan_chunks = sorted(
            key.hex() for key in self.chunk_sizes.keys() - self.referenced
        )


def verify_store(store: BlobStore, progress: ProgressCallback | None = None) -> VerifyReport:
    """Authenticate every key wrapping, chunk and manifest; check that manifests' chunks exist.

    ``progress`` is called after each object with the running count and the total (counted by a
    first listing pass, so a progress bar knows its length before the slow pass starts).
    """
    run = _Run(store, progress)
    unexpected = run.count()
    run.keys()
    run.chunks()
    run.manifests()
    run.orphans()
    for name in unexpected:
        run.step(name, "unexpected object (not a key, chunk or manifest name)")
    return run.report


def _is_known(name: str) -> bool:
    return (
        names.parse_chunk_name(name) is not None
        or names.parse_manifest_name(name) is not None
        or names.parse_data_key_name(name) is not None
        or names.parse_dedup_key_name(name) is not None
    )
