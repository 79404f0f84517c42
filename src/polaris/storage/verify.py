"""Re-read and authenticate every object in a blob store, cross-check it against the database's
references, and report what is wrong.

Order: the references (file versions, previews, uploads: supplied by the caller, since the store
knows no domain), keys, chunks, manifests, then placement records; then the joins: every
reference's manifest and chunks present, authentic and of the right size, each problem named with
the file it breaks; and what no reference needs (unreferenced, for garbage collection).
Everything listed goes into a scratch index on disk (``_index``), so memory stays bounded
however large the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polaris.errors import IntegrityError, StorageFailure
from polaris.storage import names
from polaris.storage._index import ScratchIndex
from polaris.storage.backend import ObjectNotFound
from polaris.storage.crypto import SealError
from polaris.storage.keystore import WRAPPED_KEY_SIZE
from polaris.storage.references import ReferenceSource

if TYPE_CHECKING:
    from polaris.storage.store import BlobStore

#: Findings and unreferenced ids kept in a report; the rest are counted (a store whose data
#: directory is gone has a finding per chunk of every file).
MAX_FINDINGS = 1000
MAX_LISTED = 1000


@dataclass(frozen=True)
class Finding:
    """One problem: the object's name, what is wrong with it and, from a cross-check, the file
    (or preview, or upload) it breaks, as the reference source names it."""

    object_name: str
    reason: str
    breaks: str | None = None

    def __str__(self) -> str:
        text = f"{self.object_name}: {self.reason}"
        return text if self.breaks is None else f"{text} (breaks {self.breaks})"


@dataclass(frozen=True)
class VerifyProgress:
    """Sent after each object or reference: ``done`` of ``total``, the last one ``object_name``."""

    done: int
    total: int
    object_name: str
    ok: bool


ProgressCallback = Callable[[VerifyProgress], None]


@dataclass
class VerifyReport:
    """``ok`` when there are no findings.

    Unreferenced chunks and manifests are not problems: an interrupted upload leaves them, and
    garbage collection removes them after its grace period. With references (a cross-check),
    "unreferenced" means needed by no reference and by no referenced manifest; without, a chunk
    no manifest names. ``unverifiable`` lists key wrappings under master keys this keyring does
    not hold (e.g. retired ones). ``broken_references`` counts references (files) with a problem.
    """

    total: int = 0
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_omitted: int = 0
    unreferenced_chunks: list[str] = field(default_factory=list)
    unreferenced_chunk_count: int = 0
    unreferenced_manifests: list[str] = field(default_factory=list)
    unreferenced_manifest_count: int = 0
    unverifiable: list[Finding] = field(default_factory=list)
    cross_checked: bool = False
    references: int = 0
    broken_references: int = 0
    #: Placement records read and authenticated (§8a); a damaged one is a finding.
    placements: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings and not self.findings_omitted

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)
        else:
            self.findings_omitted += 1


class _Run:
    def __init__(
        self,
        store: BlobStore,
        progress: ProgressCallback | None,
        references: ReferenceSource | None,
        index: ScratchIndex,
    ) -> None:
        self.store = store
        self.progress = progress
        self.references = references
        self.index = index
        self.report = VerifyReport(cross_checked=references is not None)

    def step(self, name: str, reason: str | None) -> None:
        if reason is not None:
            self.report.add(Finding(name, reason))
        self.report.checked += 1
        if self.progress is not None:
            self.progress(
                VerifyProgress(self.report.checked, self.report.total, name, reason is None)
            )

    def count(self) -> list[str]:
        """Count every object and reference (for the progress total); return unexpected names."""
        unexpected: list[str] = []
        if self.references is not None:
            self.report.total += self.references.count()
        for name in self.store.backend.list(""):
            self.report.total += 1
            if not _is_known(name):
                unexpected.append(name)
        return unexpected

    def load_references(self) -> None:
        """Read the references first: what the database needs is fixed before the store is
        listed, so an object written meanwhile can only appear unreferenced, never missing."""
        if self.references is None:
            return
        for reference in self.references.references():
            self.index.add_reference(reference)
            self.report.references += 1
            # The total was counted earlier; a reference added since must not overshoot it.
            self.report.total = max(self.report.total, self.report.checked + 1)
            self.step(reference.key, None)

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
                self.report.add(Finding(name, missing))
        if "dedup" not in wrapped_under_current:
            self.report.add(Finding(names.dedup_key_name(current), missing))

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
                self.index.add_chunk(cid, problem=exc.reason)
                self.step(name, exc.reason)
            except StorageFailure as exc:
                self.index.add_chunk(cid, problem=f"read error: {exc.detail}")
                self.step(name, f"read error: {exc.detail}")
            else:
                self.index.add_chunk(cid, size=size)
                self.step(name, None)

    def manifests(self) -> None:
        for name in self.store.backend.list(names.MANIFESTS):
            mid = names.parse_manifest_name(name)
            if mid is None:
                continue
            try:
                manifest = self.store.open_manifest(mid)
            except (SealError, StorageFailure) as exc:
                reason = exc.reason if isinstance(exc, SealError) else f"read error: {exc.detail}"
                self.index.add_manifest(mid, problem=reason)
                self.step(name, reason)
                continue
            content = manifest.content
            states = self.index.chunk_states([c.chunk_id for c in content.chunks])
            problems: list[str] = []
            for chunk in content.chunks:
                actual, damage = states.get(chunk.chunk_id, (None, None))
                if damage is not None:
                    problems.append(f"references damaged chunk {chunk.chunk_id}")
                elif actual is None:
                    problems.append(f"references missing chunk {chunk.chunk_id}")
                elif actual != chunk.size:
                    problems.append(
                        f"chunk {chunk.chunk_id} is {actual} bytes, the manifest says {chunk.size}"
                    )
            summary = "; ".join(dict.fromkeys(problems)) if problems else None
            self.index.add_manifest(
                mid, size=content.size, sha256=content.sha256, chunk_problems=summary
            )
            self.index.add_manifest_chunks(mid, (c.chunk_id for c in content.chunks))
            # In a cross-check, the chunks of a manifest the database needs are reported with
            # the file they break (cross_check); those of the others after it (unreferenced).
            self.step(name, summary if self.references is None else None)

    def placements(self) -> None:
        """Authenticate every placement record. Superseded ones are not problems: GC removes
        them; a damaged one is, since a recovery would pass it over for an older one."""
        for name in self.store.backend.list(names.PLACEMENTS):
            if names.parse_placement_name(name) is None:
                continue
            try:
                self.store.open_placement(name)
            except SealError as exc:
                self.step(name, exc.reason)
            except StorageFailure as exc:
                self.step(name, f"read error: {exc.detail}")
            else:
                self.report.placements += 1
                self.step(name, None)

    def cross_check(self) -> None:
        """Every reference's manifest and chunks: present, authentic, the size it expects."""
        if self.references is None:
            return
        self.index.flush()
        pending: list[tuple[str, str, str]] = []  # (key, object name, reason)
        last_ref = None
        for ref_id, key, problem in _reference_problems(self.index):
            if ref_id != last_ref:
                self.report.broken_references += 1
                last_ref = ref_id
            if len(self.report.findings) + len(pending) < MAX_FINDINGS:
                pending.append((key, *problem))
            else:
                self.report.findings_omitted += 1
        described = self.references.describe({key for key, _, _ in pending}) if pending else {}
        for key, object_name, reason in pending:
            self.report.add(Finding(object_name, reason, described.get(key, key)))

    def unreferenced(self) -> None:
        self.index.flush()
        report = self.report
        for (cid,) in self.index.rows(_UNREFERENCED_CHUNKS[self.references is not None]):
            report.unreferenced_chunk_count += 1
            if len(report.unreferenced_chunks) < MAX_LISTED:
                report.unreferenced_chunks.append(cid.hex())
        if self.references is None:
            return
        for mid, chunk_problems in self.index.rows(UNREFERENCED_MANIFESTS):
            report.unreferenced_manifest_count += 1
            if len(report.unreferenced_manifests) < MAX_LISTED:
                report.unreferenced_manifests.append(mid.hex())
            if chunk_problems is not None:
                report.add(Finding(names.manifest_name(mid.hex()), chunk_problems))


#: Chunks neither a reference nor a referenced manifest needs (with references), or no manifest
#: names (the store alone).
_UNREFERENCED_CHUNKS = {
    True: """SELECT c.id FROM chunk c
        WHERE NOT EXISTS (SELECT 1 FROM ref_chunk rc WHERE rc.chunk_id = c.id)
          AND NOT EXISTS (SELECT 1 FROM manifest_chunk mc JOIN ref r
                          ON r.manifest_id = mc.manifest_id WHERE mc.chunk_id = c.id)
        ORDER BY c.id""",
    False: """SELECT c.id FROM chunk c
        WHERE NOT EXISTS (SELECT 1 FROM manifest_chunk mc WHERE mc.chunk_id = c.id)
        ORDER BY c.id""",
}
UNREFERENCED_MANIFESTS = """SELECT m.id, m.chunk_problems FROM manifest m
    WHERE NOT EXISTS (SELECT 1 FROM ref r WHERE r.manifest_id = m.id) ORDER BY m.id"""

_REFERENCE_PROBLEMS = """
SELECT r.id, -1, r.key, 'manifest', r.manifest_id, m.id IS NOT NULL, m.problem,
       m.size, r.size, m.sha256, r.sha256
  FROM ref r LEFT JOIN manifest m ON m.id = r.manifest_id
 WHERE r.manifest_id IS NOT NULL
   AND (m.id IS NULL OR m.problem IS NOT NULL
        OR (r.size IS NOT NULL AND m.size IS NOT r.size)
        OR (r.sha256 IS NOT NULL AND m.sha256 IS NOT r.sha256))
UNION ALL
SELECT r.id, MIN(rc.position), r.key, 'chunk', rc.chunk_id, c.id IS NOT NULL, c.problem,
       c.size, rc.size, NULL, NULL
  FROM ref_chunk rc JOIN ref r ON r.id = rc.ref LEFT JOIN chunk c ON c.id = rc.chunk_id
 WHERE c.id IS NULL OR c.problem IS NOT NULL OR c.size IS NOT rc.size
 GROUP BY rc.ref, rc.chunk_id
ORDER BY 1, 2
"""


def _reference_problems(index: ScratchIndex) -> Iterator[tuple[int, str, tuple[str, str]]]:
    """(reference row, key, (object name, reason)) for each problem, grouped by reference."""
    for row in index.rows(_REFERENCE_PROBLEMS):
        ref_id, _, key, kind, object_id, present, problem, actual, expected, sha, want = row
        oid = bytes(object_id).hex()
        name = names.manifest_name(oid) if kind == "manifest" else names.chunk_name(oid)
        yield ref_id, key, (name, _reason(kind, present, problem, actual, expected, sha, want))


def _reason(kind: str, present: Any, problem: Any, actual: Any, expected: Any, *sha: Any) -> str:
    if not present:
        return "missing"
    if problem is not None:
        return str(problem)
    if kind == "chunk" or actual != expected:
        return f"is {actual} bytes, the database says {expected}"
    return f"names content with SHA-256 {sha[0]}, the database says {sha[1]}"


def verify_store(
    store: BlobStore,
    progress: ProgressCallback | None = None,
    *,
    references: ReferenceSource | None = None,
    scratch_dir: Path | None = None,
) -> VerifyReport:
    """Authenticate every key wrapping, chunk and manifest; check that manifests' chunks exist;
    with ``references``, check that everything they need is present and intact.

    ``progress`` is called after each object and reference with the running count and the total
    (counted by a first listing pass, so a progress bar knows its length before the slow pass).
    ``scratch_dir`` holds the temporary index (default: the system's temporary directory).
    """
    with ScratchIndex(scratch_dir) as index:
        run = _Run(store, progress, references, index)
        unexpected = run.count()
        run.load_references()
        run.keys()
        run.chunks()
        run.manifests()
        run.placements()
        run.cross_check()
        run.unreferenced()
        for name in unexpected:
            run.step(name, "unexpected object (not a key, chunk, manifest or placement name)")
        return run.report


def _is_known(name: str) -> bool:
    return (
        names.parse_chunk_name(name) is not None
        or names.parse_manifest_name(name) is not None
        or names.parse_placement_name(name) is not None
        or names.parse_data_key_name(name) is not None
        or names.parse_dedup_key_name(name) is not None
    )
