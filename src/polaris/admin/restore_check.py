"""Is a restored instance whole? ``storage verify``, ``audit verify`` and a sample of files read
back, on the instance ``polaris restore`` or ``polaris backup drill`` made.

The checks are the ones the operator runs by hand (the same functions), without recording a
verify run in the restored audit log: a drill must not change what it measures. A sampled file is
read through the blob store and its SHA-256 compared with the one its manifest (and its version
row) names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select

from polaris.admin.stored_content import DatabaseReferences
from polaris.audit import service as audit
from polaris.audit.models import AuditRecord
from polaris.instance import Instance
from polaris.storage.references import Reference
from polaris.storage.verify import verify_store


@dataclass
class RestoreCheck:
    storage_ok: bool = False
    storage_detail: str = ""
    audit_ok: bool = False
    audit_detail: str = ""
    files_sampled: int = 0
    sample_failures: list[str] = field(default_factory=list)
    #: The newest audit record's time: every change appends one, so it is the newest change.
    newest_change_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.storage_ok and self.audit_ok and not self.sample_failures

    def lines(self) -> list[str]:
        sampled = f"{self.files_sampled} file(s) read back"
        if self.sample_failures:
            sampled += ": " + "; ".join(self.sample_failures)
        return [
            f"storage verify: {'ok' if self.storage_ok else 'FAILED'}: {self.storage_detail}",
            f"audit verify: {'ok' if self.audit_ok else 'FAILED'}: {self.audit_detail}",
            f"sample: {'ok' if not self.sample_failures else 'FAILED'}: {sampled}",
        ]


def check_restored(instance: Instance, *, sample: int | None = None) -> RestoreCheck:
    """Verify ``instance``; read back ``sample`` files (None: every file version)."""
    result = RestoreCheck()
    references = DatabaseReferences(instance.read_sessions)
    store_report = verify_store(
        instance.blobs, references=references, scratch_dir=instance.settings.data_dir
    )
    result.storage_ok = store_report.ok
    result.storage_detail = (
        f"{store_report.checked} objects and references, "
        f"{len(store_report.findings) + store_report.findings_omitted} problem(s), "
        f"{store_report.broken_references} of {store_report.references} files broken"
    )
    with instance.read_sessions() as session:
        audit_report = audit.verify(
            session=session,
            public_keys=[instance.audit_signer.public_key],
            anchor_file=instance.settings.audit_anchor_file,
        )
        result.newest_change_at = session.scalar(select(func.max(AuditRecord.at)))
    result.audit_ok = audit_report.ok
    problems = [f"{f.kind.value} at {f.seq}: {f.message}" for f in audit_report.findings[:3]]
    result.audit_detail = f"{audit_report.records} records, " + (
        "; ".join(problems) if problems else "chain and checkpoints valid"
    )
    listing = references.references()
    try:
        _read_back(instance, listing, sample, result)
    finally:
        # A sample stops the listing half-way: end its query (a server-side cursor on
        # PostgreSQL) now, not whenever the generator is collected.
        close = getattr(listing, "close", None)
        if close is not None:
            close()
    return result


def _read_back(
    instance: Instance, listing: Iterator[Reference], sample: int | None, result: RestoreCheck
) -> None:
    with_manifest = (ref for ref in listing if ref.manifest_id is not None)
    for reference in itertools.islice(with_manifest, sample):
        result.files_sampled += 1
        assert reference.manifest_id is not None
        try:
            manifest = instance.blobs.read_manifest(reference.manifest_id)
            digest = hashlib.sha256()
            for block in instance.blobs.open_stream(manifest.content):
                digest.update(block)
        except Exception as error:
            result.sample_failures.append(f"{reference.key}: {error}")
            continue
        expected = {manifest.content.sha256, reference.sha256 or manifest.content.sha256}
        if expected != {digest.hexdigest()}:
            result.sample_failures.append(f"{reference.key}: SHA-256 differs")
