"""Building audit chains and tampering with them the way an intruder with SQL access would."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from polaris.audit import repo, sealing
from polaris.audit import service as audit
from polaris.audit.encoding import HASH_VERSION, RECORD_FIELDS, record_hash
from polaris.audit.keys import AuditSigner
from polaris.audit.models import AuditCheckpoint, AuditHead, AuditRecord

RECORD = cast(Table, AuditRecord.__table__)
HEAD = cast(Table, AuditHead.__table__)
CHECKPOINT = cast(Table, AuditCheckpoint.__table__)

ACTIONS = ["auth.login", "document.read", "share.create", "auth.login_failed", "document.update"]


def user_context(number: int = 7) -> audit.AuditContext:
    return audit.AuditContext(
        actor_id=number,
        actor_name=f"officer{number}",
        actor_role="sho",
        unit_id=40 + number % 3,
        auth_factors="password+totp",
        session_hash=audit.hash_session_id(f"session-{number}"),
        source_address="10.0.0.5",
        client="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        request_id=f"req-{number}",
    )


def chain(session: Session) -> None:
    """Put the unsealed records into the chain (as the sealer does) without a checkpoint."""
    session.flush()
    head = repo.lock_or_create_head(session)
    sealing.chain_unsealed(session, head, repo.unsealed_rows(session, limit=1_000_000))
    session.expire_all()


def append_records(
    session: Session, count: int, *, start: int = 0, chained: bool = True
) -> list[AuditRecord]:
    """``count`` records with varied fields (ids, Devanagari names, details, denials), put into
    the chain (``chained``) as the sealer would, but with no checkpoint."""
    ids = []
    for index in range(start, start + count):
        ids.append(
            audit.append(
                session=session,
                context=user_context(index % 4),
                action=ACTIONS[index % len(ACTIONS)],
                object_type="file" if index % 2 else None,
                object_id=1000 + index if index % 2 else None,
                version_hash=("ab" * 32) if index % 3 == 0 else None,
                classification=["restricted", "secret", None][index % 3],
                decision="deny" if index % 5 == 4 else "allow",
                reason="प्रतिबंधित" if index % 5 == 4 else None,
                detail={"n": index, "नाम": "फ़ाइल"} if index % 2 == 0 else None,
            ).id
        )
    if chained:
        chain(session)
    # Loaded from the session (``append`` returns a record that is not attached to it).
    return [session.get_one(AuditRecord, record_id) for record_id in ids]


def rows(session: Session) -> list[dict[str, Any]]:
    result = session.execute(select(RECORD).order_by(RECORD.c.seq)).mappings()
    return [dict(row) for row in result]


def row(session: Session, seq: int) -> dict[str, Any]:
    found = session.execute(select(RECORD).where(RECORD.c.seq == seq)).mappings().one()
    return dict(found)


def set_fields(session: Session, seq: int, /, **values: Any) -> None:
    session.execute(update(RECORD).where(RECORD.c.seq == seq).values(**values))


def delete_records(session: Session, *, first: int, last: int | None = None) -> None:
    condition = RECORD.c.seq >= first
    if last is not None:
        condition = condition & (RECORD.c.seq <= last)
    session.execute(delete(RECORD).where(condition))


def shift_seqs(session: Session, *, first: int, by: int) -> None:
    """Renumber records ``first``... by ``by`` (through negative seqs to dodge the primary key)."""
    session.execute(update(RECORD).where(RECORD.c.seq >= first).values(seq=-(RECORD.c.seq + by)))
    session.execute(update(RECORD).where(RECORD.c.seq < 0).values(seq=-RECORD.c.seq))


def swap(session: Session, first: int, second: int) -> None:
    """Swap two records' places: each keeps its content and hashes but takes the other's seq."""
    session.execute(update(RECORD).where(RECORD.c.seq == first).values(seq=-1))
    session.execute(update(RECORD).where(RECORD.c.seq == second).values(seq=first))
    session.execute(update(RECORD).where(RECORD.c.seq == -1).values(seq=second))


def forged_values(seq: int, prev_hash: str) -> dict[str, Any]:
    """A well-formed record (correct hash) that the log never wrote."""
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    values.update(
        seq=seq,
        at=dt.datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC),
        actor_name="intruder",
        action="document.read",
        decision="allow",
        prev_hash=prev_hash,
        hash_version=HASH_VERSION,
    )
    values["hash"] = record_hash(values)
    return values


def insert_record(session: Session, values: dict[str, Any]) -> None:
    session.execute(RECORD.insert().values(**values))


def rehash_from(session: Session, first: int, *, update_head: bool = True) -> None:
    """Recompute the hashes (and links) of records ``first``... as a careful intruder would."""
    previous = None
    for values in rows(session):
        if values["seq"] < first:
            previous = values["hash"]
            continue
        if previous is not None:
            values["prev_hash"] = previous
        values["hash"] = record_hash(values)
        set_fields(session, values["seq"], prev_hash=values["prev_hash"], hash=values["hash"])
        previous = values["hash"]
    if update_head:
        last = rows(session)[-1]
        session.execute(update(HEAD).values(seq=last["seq"], hash=last["hash"]))


def set_head(session: Session, *, seq: int, hash: str) -> None:
    session.execute(update(HEAD).values(seq=seq, hash=hash))


def flip(hex_text: str) -> str:
    """The same hex string with its last digit changed."""
    return hex_text[:-1] + ("0" if hex_text[-1] != "0" else "1")


def seal(session: Session, signer: AuditSigner) -> AuditCheckpoint:
    """A checkpoint over the head, adopting chained records that no checkpoint covers yet."""
    checkpoint = audit.seal(session=session, signer=signer, adopt=True)
    assert checkpoint is not None
    return checkpoint
