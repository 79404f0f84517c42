"""All SQL of the audit log. Functions take the session first and never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from polaris.audit.encoding import GENESIS_HASH
from polaris.audit.models import HEAD_ROW_ID, AuditCheckpoint, AuditHead, AuditRecord

_RECORD = cast(Table, AuditRecord.__table__)
_CHECKPOINT = cast(Table, AuditCheckpoint.__table__)
_HEAD = cast(Table, AuditHead.__table__)
# Built once: appends run these on every audited request.
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ROW_ID)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_TRY_LOCK_HEAD = _READ_HEAD.with_for_update(skip_locked=True)
_INSERT_RECORD = insert(_RECORD).returning(_RECORD.c.id)
_SEAL_RECORD = (
    update(_RECORD)
    .where(_RECORD.c.id == bindparam("b_id"), _RECORD.c.seq.is_(None))
    .values(
        seq=bindparam("b_seq"),
        prev_hash=bindparam("b_prev_hash"),
        hash=bindparam("b_hash"),
        hash_version=bindparam("b_hash_version"),
    )
)
_SET_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ROW_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)

#: A row as a plain dict keyed by column name (rows, not ORM objects: see ``record_rows``).
Row = dict[str, Any]


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def lock_head(session: Session) -> Head | None:
    """The head row, locked until the transaction ends (``FOR UPDATE``; SQLite ignores it and
    relies on its single writer, which ``BEGIN IMMEDIATE`` takes at the start)."""
    row = session.execute(_LOCK_HEAD).one_or_none()
    return None if row is None else Head(seq=row.seq, hash=row.hash)


def try_lock_head(session: Session) -> Head | None:
    """The head row locked, or ``None`` when another transaction holds it (PostgreSQL's
    ``SKIP LOCKED``: a second sealer gives up at once instead of queueing). Creates the row of a
    new log."""
    row = session.execute(_TRY_LOCK_HEAD).one_or_none()
    if row is not None:
        return Head(seq=row.seq, hash=row.hash)
    if read_head(session) is not None:
        return None  # it exists: another sealer holds it
    return lock_or_create_head(session)


def lock_or_create_head(session: Session) -> Head:
    head = lock_head(session)
    if head is not None:
        return head
    values = {"id": HEAD_ROW_ID, "seq": 0, "hash": GENESIS_HASH}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(_HEAD).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(_HEAD).values(values).on_conflict_do_nothing())
    else:
        session.execute(insert(_HEAD).values(values))
    head = lock_head(session)
    assert head is not None
    return head


def read_head(session: Session) -> Head | None:
    row = session.execute(_READ_HEAD).one_or_none()
    return None if row is None else Head(seq=row.seq, hash=row.hash)


def set_head(session: Session, *, seq: int, hash: str) -> None:
    session.execute(_SET_HEAD, {"new_seq": seq, "new_hash": hash})


def record_rows(
    session: Session,
    *,
    after_seq: int | None,
    limit: int,
    until: dt.datetime | None = None,
    raw_time: bool = False,
) -> list[Row]:
    """The next ``limit`` records after ``after_seq`` (all when ``None``) in seq order, as rows.

    Rows rather than ORM objects keep memory bounded (nothing enters the identity map).
    ``raw_time`` returns ``at`` as the driver gives it, so that ``verify`` can report a
    non-timestamp value stored by tampering on SQLite instead of failing to read it.
    """
    columns: list[ColumnElement[Any]] = list(_RECORD.c)
    if raw_time:
        columns = [
            type_coerce(column, String()).label("at") if column.name == "at" else column
            for column in _RECORD.c
        ]
    statement = select(*columns).order_by(_RECORD.c.seq).limit(limit)
    if after_seq is not None:
        statement = statement.where(_RECORD.c.seq > after_seq)
    else:
        statement = statement.where(_RECORD.c.seq.is_not(None))
    if until is not None:
        statement = statement.where(_RECORD.c.at < until)
    return [dict(row) for row in session.execute(statement).mappings()]


def insert_record(session: Session, values: Mapping[str, Any]) -> int:
    """INSERT one unsealed record; its database-generated id. Core, not the ORM: this runs on
    every audited request, and the unit of work's bookkeeping would cost more than the insert."""
    return int(session.execute(_INSERT_RECORD, dict(values)).scalar_one())


def unsealed_rows(session: Session, *, limit: int) -> list[Row]:
    """The oldest ``limit`` committed records not yet in the chain, in id order."""
    statement = select(_RECORD).where(_RECORD.c.seq.is_(None)).order_by(_RECORD.c.id).limit(limit)
    return [dict(row) for row in session.execute(statement).mappings()]


def count_unsealed(session: Session) -> int:
    statement = select(func.count()).select_from(_RECORD).where(_RECORD.c.seq.is_(None))
    return int(session.execute(statement).scalar_one())


def seal_records(session: Session, chained: Sequence[Row]) -> None:
    """Give each record (``b_id``) its ``b_seq``, ``b_prev_hash``, ``b_hash`` and version."""
    if chained:
        session.execute(_SEAL_RECORD, list(chained))


def uncovered(session: Session, *, after_seq: int, before: dt.datetime) -> tuple[int, int | None]:
    """How many records appended before ``before`` are unsealed or sealed after ``after_seq``,
    and the id of the oldest."""
    statement = select(func.count(), func.min(_RECORD.c.id)).where(
        (_RECORD.c.seq.is_(None)) | (_RECORD.c.seq > after_seq), _RECORD.c.at < before
    )
    count, first = session.execute(statement).one()
    return int(count), first


def max_record_seq(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(_RECORD.c.seq), 0))).scalar_one())


def stored_hashes(session: Session, seqs: Iterable[int]) -> dict[int, str]:
    wanted = list(seqs)
    if not wanted:
        return {}
    rows = session.execute(
        select(_RECORD.c.seq, _RECORD.c.hash).where(_RECORD.c.seq.in_(wanted))
    ).all()
    return {row.seq: row.hash for row in rows}


def record_at(session: Session, seq: int) -> Row | None:
    row = session.execute(select(_RECORD).where(_RECORD.c.seq == seq)).mappings().one_or_none()
    return None if row is None else dict(row)


def checkpoint_exists(session: Session, seq: int) -> bool:
    found = session.execute(select(_CHECKPOINT.c.seq).where(_CHECKPOINT.c.seq == seq)).first()
    return found is not None


def last_checkpoint_seq(session: Session) -> int:
    found = session.execute(select(func.coalesce(func.max(_CHECKPOINT.c.seq), 0))).scalar_one()
    return int(found)


def checkpoint_rows(
    session: Session, *, after_seq: int | None, limit: int, until_seq: int | None = None
) -> list[Row]:
    statement = select(_CHECKPOINT).order_by(_CHECKPOINT.c.seq).limit(limit)
    if after_seq is not None:
        statement = statement.where(_CHECKPOINT.c.seq > after_seq)
    if until_seq is not None:
        statement = statement.where(_CHECKPOINT.c.seq <= until_seq)
    return [dict(row) for row in session.execute(statement).mappings()]


def newest_checkpoint(session: Session) -> Row | None:
    statement = select(_CHECKPOINT).order_by(_CHECKPOINT.c.seq.desc()).limit(1)
    row = session.execute(statement).mappings().one_or_none()
    return None if row is None else dict(row)


def checkpoints_at(session: Session, seqs: Iterable[int]) -> dict[int, Row]:
    wanted = list(seqs)
    if not wanted:
        return {}
    statement = select(_CHECKPOINT).where(_CHECKPOINT.c.seq.in_(wanted))
    return {row["seq"]: dict(row) for row in session.execute(statement).mappings()}


def find_records(
    session: Session,
    *,
    conditions: Sequence[ColumnElement[bool]],
    before_id: int | None,
    limit: int,
) -> list[AuditRecord]:
    """Newest first by ``id``: unsealed records (no ``seq`` yet) are found too."""
    statement = select(AuditRecord).where(*conditions).order_by(AuditRecord.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(AuditRecord.id < before_id)
    return list(session.scalars(statement))


def filtered_rows(
    session: Session,
    *,
    conditions: Sequence[ColumnElement[bool]],
    after_seq: int,
    limit: int,
) -> list[Row]:
    """The next ``limit`` sealed records matching ``conditions`` after ``after_seq``, in seq
    order, as rows (bounded memory, as ``record_rows``)."""
    statement = (
        select(_RECORD)
        .where(*conditions, _RECORD.c.seq > after_seq)
        .order_by(_RECORD.c.seq)
        .limit(limit)
    )
    return [dict(row) for row in session.execute(statement).mappings()]
