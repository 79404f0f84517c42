"""``verify``: re-check the whole chain, the head row and every signed checkpoint.

The walk reads records in seq order in batches (memory stays bounded for millions of rows) and, for
each record, checks three things: its content against its hash, its seq against the previous one,
and its ``prev_hash`` against the previous record's hash. A record whose hash matches its content
under seq ± 1 was *moved*; runs of moved records are reported as what they mean (two records
swapped, a record inserted or deleted with the rest renumbered). A consequence of a finding already
made (the broken link after an altered record, the link across a gap) is not reported again.

What the chain alone cannot show is a rewrite that recomputes every later hash, or records cut
from the end together with the head row: signed checkpoints catch those up to the newest
checkpoint, which is why ``VerifyReport.last_valid_checkpoint_seq`` is reported. Checkpoints name
their predecessor, so a deleted one is found; the sealer makes one at every seal, so sealed
records after the newest checkpoint mean the newest were deleted. With ``max_unsealed_age``,
records appended longer ago than that (the sealing interval and a grace) that no valid checkpoint
covers are a finding too: deleting every checkpoint cannot pass. What remains is cutting the
end: records, checkpoints and head removed together; checkpoints kept outside the database
(``anchored``, see ``polaris.audit.anchor``) catch that. Unsealed records are not verified.

For a consistent answer on a live PostgreSQL database run it in a REPEATABLE READ transaction.
Under READ COMMITTED concurrent appends are still not reported as tampering: the head is re-read
after the walk and records appended meanwhile are walked too, and a checkpoint over records newer
than the walk is skipped (not counted as valid) when its record exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from polaris import clock
from polaris.audit import anchor, repo
from polaris.audit.chain import ChainWalker, Finding, FindingKind, FindingSink, span
from polaris.audit.encoding import GENESIS_HASH
from polaris.audit.keys import key_id_of
from polaris.audit.sealing import message_of

BATCH_SIZE = 5000
MAX_FINDINGS = 1000

Progress = Callable[[int, int], None]


@dataclass
class VerifyReport:
    records: int = 0
    last_seq: int = 0
    head_seq: int | None = None
    checkpoints: int = 0
    checkpoints_valid: int = 0
    last_valid_checkpoint_seq: int | None = None
    newest_checkpoint_version: int | None = None
    anchored: int = 0
    findings: list[Finding] = field(default_factory=list)
    findings_omitted: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings and not self.findings_omitted

    def add(self, kind: FindingKind, seq: int | None, message: str, *, limit: int) -> None:
        if len(self.findings) < limit:
            self.findings.append(Finding(kind, seq, message))
        else:
            self.findings_omitted += 1


def verify(
    *,
    session: Session,
    public_keys: Iterable[Ed25519PublicKey],
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    max_findings: int = MAX_FINDINGS,
    max_unsealed_age: dt.timedelta | None = None,
    anchored: Iterable[Mapping[str, Any]] | None = None,
    anchor_file: Path | None = None,
) -> VerifyReport:
    """Walk the chain and the checkpoints; the report lists every finding, by seq.

    ``public_keys`` are the checkpoint keys to trust (old keys too, after a rotation).
    ``progress(done, total)`` is called after each batch. ``max_unsealed_age`` (the sealing
    interval and its grace) turns on the coverage checks of a log kept by the sealer: records
    older than this must be covered by a valid checkpoint, and no sealed record may lie after
    the newest (version 2) checkpoint. ``anchored``: checkpoints kept outside the database
    (``anchor.read_anchor``), each of which must be in it unchanged. ``anchor_file``: the
    configured anchor file, read as ``anchored``; when it is gone while the database holds
    checkpoints, that is a finding (deleting it with the tail must not turn the check off).
    """
    started = clock.utcnow()
    report = VerifyReport()

    def sink(kind: FindingKind, seq: int | None, message: str) -> None:
        report.add(kind, seq, message, limit=max_findings)

    walker = ChainWalker(sink)
    total = max(repo.max_record_seq(session), _head_seq(repo.read_head(session)))
    cursor = _walk(session, walker, report, None, batch_size, progress, total)
    head = repo.read_head(session)
    # Records committed during the walk move the head on; walk them before judging the head.
    while head is not None and head.seq > walker.last_seq:
        before = cursor
        cursor = _walk(session, walker, report, cursor, batch_size, progress, head.seq)
        if cursor == before:
            break
        head = repo.read_head(session)
    walker.finish()
    report.last_seq = walker.last_seq
    _check_head(session, head, walker.last_seq, walker.last_hash, report, sink)
    _check_checkpoints(session, _keys_by_id(public_keys), walker.last_seq, report, sink, batch_size)
    if max_unsealed_age is not None:
        _check_coverage(session, head, report, sink)
        _check_age(session, started - max_unsealed_age, max_unsealed_age, report, sink)
    if anchor_file is not None and anchored is None:
        if anchor_file.exists():
            anchored = anchor.read_anchor(anchor_file)
        elif report.checkpoints:
            sink(
                FindingKind.ANCHOR_FILE_MISSING,
                None,
                f"the anchor file {anchor_file} is missing, though {report.checkpoints} "
                "checkpoints were sealed: the copy kept outside the database was removed",
            )
    if anchored is not None:
        report.anchored = anchor.compare(session, anchored, sink)
    return report


def _check_coverage(
    session: Session, head: repo.Head | None, report: VerifyReport, sink: FindingSink
) -> None:
    """Every seal writes a checkpoint at the head: sealed records after the newest valid one
    mean checkpoints were removed (unless that one is of version 1, from before)."""
    covered = report.last_valid_checkpoint_seq or 0
    if head is None or head.seq <= covered or report.newest_checkpoint_version == 1:
        return
    sink(
        FindingKind.UNCOVERED,
        covered + 1,
        f"{span(covered + 1, head.seq)} are sealed but no valid signed checkpoint covers them: "
        "checkpoints were deleted",
    )


def _check_age(
    session: Session,
    before: dt.datetime,
    age: dt.timedelta,
    report: VerifyReport,
    sink: FindingSink,
) -> None:
    count, first_id = repo.uncovered(
        session, after_seq=report.last_valid_checkpoint_seq or 0, before=before
    )
    if count:
        minutes = int(age.total_seconds() // 60)
        sink(
            FindingKind.UNCOVERED,
            None,
            f"{count} record(s) appended more than {minutes} minutes ago (the first has id "
            f"{first_id}) are not covered by a valid signed checkpoint: checkpoints were "
            "deleted, or no sealer ran (the server seals; `polaris audit seal` does so by hand)",
        )


def _head_seq(head: repo.Head | None) -> int:
    return 0 if head is None else head.seq


def _keys_by_id(public_keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    return {key_id_of(key): key for key in public_keys}


def _walk(
    session: Session,
    walker: ChainWalker,
    report: VerifyReport,
    cursor: int | None,
    batch_size: int,
    progress: Progress | None,
    total: int,
) -> int | None:
    while rows := repo.record_rows(session, after_seq=cursor, limit=batch_size, raw_time=True):
        for row in rows:
            walker.feed(_with_time(row))
        cursor = rows[-1]["seq"]
        report.records += len(rows)
        if progress is not None:
            progress(report.records, max(total, report.records))
    return cursor


def _with_time(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row with ``at`` as an aware datetime, or ``None`` when it is not a timestamp."""
    values = dict(row)
    at = values["at"]
    if isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at)
        except ValueError:
            at = None
    if isinstance(at, dt.datetime):
        values["at"] = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    else:
        values["at"] = None
    return values


def _check_head(
    session: Session,
    head: repo.Head | None,
    last_seq: int,
    last_hash: str,
    report: VerifyReport,
    sink: FindingSink,
) -> None:
    if head is None:
        if last_seq:
            sink(FindingKind.HEAD_MISSING, None, "the head row is missing")
        return
    report.head_seq = head.seq
    if head.seq > last_seq:
        sink(
            FindingKind.TRUNCATED,
            last_seq + 1,
            f"{span(last_seq + 1, head.seq)} missing at the end: the head row says the chain "
            f"ends at {head.seq}, the last record is {last_seq}",
        )
        return
    if head.seq < last_seq:
        sink(
            FindingKind.BEYOND_HEAD,
            head.seq + 1,
            f"{span(head.seq + 1, last_seq)} after the head row's seq {head.seq}: added "
            "outside the log, or the head was rolled back",
        )
    if head.seq == last_seq:
        expected = last_hash
    elif head.seq == 0:
        expected = GENESIS_HASH
    else:
        expected = repo.stored_hashes(session, [head.seq]).get(head.seq, "")
    if head.hash != expected:
        sink(
            FindingKind.HEAD_MISMATCH,
            head.seq,
            f"the head row's hash differs from record {head.seq}'s",
        )


def _check_checkpoints(
    session: Session,
    keys: Mapping[str, Ed25519PublicKey],
    last_seq: int,
    report: VerifyReport,
    sink: FindingSink,
    batch_size: int,
) -> None:
    cursor: int | None = None
    previous: tuple[int, str] = (0, GENESIS_HASH)
    while rows := repo.checkpoint_rows(session, after_seq=cursor, limit=batch_size):
        cursor = rows[-1]["seq"]
        report.checkpoints += len(rows)
        signed = [row for row in rows if _signature_ok(row, keys, sink)]
        for row in signed:
            previous = _check_link(row, previous, sink)
        hashes = repo.stored_hashes(session, [row["seq"] for row in signed])
        for row in signed:
            seq = row["seq"]
            if seq > last_seq and seq in hashes:
                continue  # appended and sealed after the walk ended (READ COMMITTED)
            if seq > last_seq:
                sink(
                    FindingKind.TRUNCATED,
                    last_seq + 1,
                    f"signed checkpoint {seq} covers {span(last_seq + 1, seq)} past the end "
                    f"of the chain ({last_seq}): removed",
                )
            elif hashes.get(seq) != row["hash"]:
                what = "is missing" if seq not in hashes else "differs from the signed checkpoint"
                sink(
                    FindingKind.CHECKPOINT_MISMATCH,
                    seq,
                    f"record {seq} {what}: the chain up to {seq} was rewritten",
                )
            else:
                report.checkpoints_valid += 1
                report.last_valid_checkpoint_seq = seq
                report.newest_checkpoint_version = row["version"]


def _check_link(
    row: Mapping[str, Any], previous: tuple[int, str], sink: FindingSink
) -> tuple[int, str]:
    """A version 2 checkpoint must name the valid checkpoint before it; the new ``previous``."""
    seq = row["seq"]
    if row["version"] != 1:
        named = (row["prev_seq"], row["prev_hash"])
        if named[0] > previous[0]:
            sink(
                FindingKind.CHECKPOINT_MISSING,
                named[0],
                f"checkpoint {seq} follows checkpoint {named[0]}, which is missing "
                f"(the one before it is {previous[0] or 'none'}): checkpoints were deleted",
            )
        elif named != previous:
            sink(
                FindingKind.CHECKPOINT_MISSING,
                seq,
                f"checkpoint {seq} names checkpoint {named[0]} as its predecessor, not "
                f"{previous[0] or 'none'}: the checkpoints were rewritten",
            )
    return (seq, row["hash"])


def _signature_ok(
    row: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey], sink: FindingSink
) -> bool:
    seq = row["seq"]
    key = keys.get(row["key_id"])
    if key is None:
        sink(
            FindingKind.CHECKPOINT_UNKNOWN_KEY,
            seq,
            f"checkpoint {seq} is signed by key {row['key_id']}, which is not a trusted key",
        )
        return False
    try:
        key.verify(bytes.fromhex(row["signature"]), message_of(row))
    except (InvalidSignature, ValueError, TypeError):
        sink(FindingKind.CHECKPOINT_FORGED, seq, f"checkpoint {seq}'s signature does not verify")
        return False
    return True


__all__ = ["Finding", "FindingKind", "VerifyReport", "verify"]
