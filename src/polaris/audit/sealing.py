"""Sealing: chaining unsealed records and signing a checkpoint over them, one sealer at a time.

An audited action only INSERTs its record (``service.append``); nothing shared is touched, so
requests do not wait for each other. The sealer then, in one transaction:

1. locks the ``audit_head`` row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second sealer on
   another node gives up at once; SQLite has one writer anyway);
2. checks that the sealed chain ends where the newest checkpoint says (its signature verifies,
   it names the head's seq and hash, and the head's record matches): it never signs on top of a
   chain whose end it cannot vouch for (``SealRefused``; ``adopt`` walks the records after the
   newest checkpoint instead, for an operator who has reviewed them, and for the one seal after
   an upgrade from version 1 checkpoints);
3. takes up to ``limit`` committed unsealed records in ``id`` order, gives them the next chain
   positions ``seq``, their ``prev_hash`` and ``hash`` (``encoding.record_hash``);
4. moves the head and signs a version 2 checkpoint naming the previous checkpoint.

A record whose transaction commits after a later one was sealed simply goes into the next batch:
the chain order is the sealer's, fixed and recorded by ``seq``. Until sealed, a record can be
altered without trace by anyone who can write to the database; how long that lasts is the
sealing interval (see ``docs/security.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy.orm import Session

from polaris import clock
from polaris.audit import repo
from polaris.audit.chain import ChainWalker, Finding, FindingKind
from polaris.audit.encoding import (
    CHECKPOINT_VERSION,
    GENESIS_HASH,
    HASH_VERSION,
    checkpoint_message,
    record_hash,
)
from polaris.audit.keys import AuditSigner
from polaris.audit.models import AuditCheckpoint
from polaris.errors import IntegrityError

#: Records chained per checkpoint; a larger backlog is sealed in several batches.
SEAL_BATCH = 5000


class SealRefused(IntegrityError):
    """The sealed chain does not end where its newest checkpoint says: run ``audit verify``."""


def seal(
    *, session: Session, signer: AuditSigner, limit: int = SEAL_BATCH, adopt: bool = False
) -> AuditCheckpoint | None:
    """Chain up to ``limit`` unsealed records and sign a checkpoint over the new head.

    ``None`` when nothing is unsealed or another sealer holds the head. Never commits.
    """
    head = repo.try_lock_head(session)
    if head is None:
        return None
    newest = repo.newest_checkpoint(session)
    behind = _check_end(session, signer, head, newest, adopt=adopt)
    rows = repo.unsealed_rows(session, limit=limit)
    if not rows and not behind:
        return None
    seq, previous = chain_unsealed(session, head, rows)
    return _sign(session, signer, seq=seq, hash=previous, newest=newest)


def chain_unsealed(
    session: Session, head: repo.Head, rows: Sequence[Mapping[str, Any]]
) -> tuple[int, str]:
    """Give ``rows`` (unsealed, in id order) the chain positions after the locked ``head`` and
    move the head; the new head's seq and hash. No checkpoint: ``seal`` signs one."""
    seq, previous = head.seq, head.hash
    chained = []
    for row in rows:
        seq += 1
        values = {**row, "seq": seq, "prev_hash": previous}
        digest = record_hash(values)
        chained.append(
            {
                "b_id": row["id"],
                "b_seq": seq,
                "b_prev_hash": previous,
                "b_hash": digest,
                "b_hash_version": HASH_VERSION,
            }
        )
        previous = digest
    repo.seal_records(session, chained)
    if chained:
        repo.set_head(session, seq=seq, hash=previous)
    return seq, previous


def seal_if_due(*, session: Session, signer: AuditSigner, interval: int) -> AuditCheckpoint | None:
    """Seal when at least ``interval`` records wait to be sealed (a cheap count first)."""
    if interval < 1:
        raise ValueError("the checkpoint interval must be at least 1")
    if repo.count_unsealed(session) < interval:
        return None
    return seal(session=session, signer=signer)


def _check_end(
    session: Session,
    signer: AuditSigner,
    head: repo.Head,
    newest: Mapping[str, Any] | None,
    *,
    adopt: bool,
) -> bool:
    """Refuse to sign over a chain end that no valid checkpoint vouches for.

    True when sealed records lie after the newest checkpoint (accepted only after walking them:
    with ``adopt``, or when that checkpoint is of version 1, written before checkpoints named
    the head they were made at).
    """
    if newest is None and head.seq == 0:
        return False
    if newest is not None:
        _check_signature(signer, newest)
        if newest["seq"] == head.seq and newest["hash"] == head.hash:
            _check_head_record(session, head)
            return False
        if newest["seq"] > head.seq:
            raise SealRefused(
                f"checkpoint {newest['seq']} lies past the head ({head.seq}); run verify"
            )
        if newest["version"] != 1 and not adopt:
            raise SealRefused(
                f"the chain ends at {head.seq} but the newest checkpoint is {newest['seq']}: "
                "checkpoints were removed; run verify"
            )
    elif not adopt:
        raise SealRefused(
            f"the chain ends at {head.seq} but no checkpoint covers it; run verify, then "
            "`polaris audit seal --adopt` if the records are as they should be"
        )
    start = (0, GENESIS_HASH) if newest is None else (newest["seq"], newest["hash"])
    _walk_from(session, start, head)
    return True


def _check_signature(signer: AuditSigner, row: Mapping[str, Any]) -> None:
    if row["key_id"] != signer.key_id:
        raise SealRefused(f"checkpoint {row['seq']} is signed by another key ({row['key_id']})")
    try:
        signer.public_key.verify(bytes.fromhex(row["signature"]), message_of(row))
    except (InvalidSignature, ValueError) as exc:
        raise SealRefused(f"checkpoint {row['seq']}'s signature does not verify") from exc


def message_of(row: Mapping[str, Any]) -> bytes:
    """The signed bytes of a stored checkpoint row (either version)."""
    return checkpoint_message(
        seq=row["seq"],
        hash=row["hash"],
        at=row["at"],
        key_id=row["key_id"],
        version=row["version"],
        prev_seq=row["prev_seq"],
        prev_hash=row["prev_hash"],
    )


def _check_head_record(session: Session, head: repo.Head) -> None:
    if head.seq == 0:
        return
    record = repo.record_at(session, head.seq)
    if (
        record is None
        or record["hash"] != head.hash
        or record_hash(record, hash_version=record["hash_version"]) != head.hash
    ):
        raise SealRefused(f"audit record {head.seq} does not match the head; run verify")


def _walk_from(session: Session, start: tuple[int, str], head: repo.Head) -> None:
    """Walk the sealed records after ``start`` up to the head; refuse on any finding."""
    findings: list[Finding] = []

    def sink(kind: FindingKind, seq: int | None, message: str) -> None:
        findings.append(Finding(kind, seq, message))

    walker = ChainWalker(sink)
    walker.last_seq, walker.last_hash = start
    cursor = start[0]
    while not findings and (rows := repo.record_rows(session, after_seq=cursor, limit=SEAL_BATCH)):
        for row in rows:
            walker.feed(row)
        cursor = rows[-1]["seq"]
    walker.finish()
    if not findings and (walker.last_seq, walker.last_hash) != (head.seq, head.hash):
        findings.append(Finding(FindingKind.HEAD_MISMATCH, head.seq, "the head differs"))
    if findings:
        raise SealRefused(
            f"the chain after the newest checkpoint is damaged: {findings[0].message}"
        )


def _sign(
    session: Session,
    signer: AuditSigner,
    *,
    seq: int,
    hash: str,
    newest: Mapping[str, Any] | None,
) -> AuditCheckpoint:
    at = clock.utcnow()
    prev_seq, prev_hash = (0, GENESIS_HASH) if newest is None else (newest["seq"], newest["hash"])
    message = checkpoint_message(
        seq=seq,
        hash=hash,
        at=at,
        key_id=signer.key_id,
        version=CHECKPOINT_VERSION,
        prev_seq=prev_seq,
        prev_hash=prev_hash,
    )
    checkpoint = AuditCheckpoint(
        seq=seq,
        hash=hash,
        at=at,
        key_id=signer.key_id,
        signature=signer.sign(message).hex(),
        version=CHECKPOINT_VERSION,
        prev_seq=prev_seq,
        prev_hash=prev_hash,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


__all__ = ["SEAL_BATCH", "SealRefused", "chain_unsealed", "message_of", "seal", "seal_if_due"]
