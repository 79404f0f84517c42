"""All SQL of the audit log. Functions take the session first and never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
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
    if until is not None:
        statement = statement.where(_RECORD.c.at < until)
    return [dict(row) for row in session.execute(statement).mappings()]


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


def checkpoint_rows(session: Session, *, after_seq: int | None, limit: int) -> list[Row]:
    statement = select(_CHECKPOINT).order_by(_CHECKPOINT.c.seq).limit(limit)
    if after_seq is not None:
        statement = statement.where(_CHECKPOINT.c.seq > after_seq)
    return [dict(row) for row in session.execute(statement).mappings()]


def find_records(
    session: Session,
    *,
    conditions: Sequence[ColumnElement[bool]],
    before_seq: int | None,
    limit: int,
) -> list[AuditRecord]:
    statement = select(AuditRecord).where(*conditions).order_by(AuditRecord.seq.desc()).limit(limit)
    if before_seq is not None:
        statement = statement.where(AuditRecord.seq < before_seq)
    return list(session.scalars(statement))


def filtered_rows(
    session: Session,
    *,
    conditions: Sequence[ColumnElement[bool]],
    after_seq: int,
    limit: int,
) -> list[Row]:
    """The next ``limit`` records matching ``conditions`` after ``after_seq``, in seq order, as
    rows (bounded memory, as ``record_rows``)."""
    statement = (
        select(_RECORD)
        .where(*conditions, _RECORD.c.seq > after_seq)
        .order_by(_RECORD.c.seq)
        .limit(limit)
    )
    return [dict(row) for row in session.execute(statement).mappings()]
