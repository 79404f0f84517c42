"""The SQL of resumable uploads (``drive.uploads``): offsets moved on only from the offset read,
expiry, and what garbage collection and verification need of them. Takes the session first and
never commits, like ``drive.repo``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.orm import Session

from polaris.drive.models import Upload


def advance_upload(
    session: Session, upload_id: str, *, from_offset: int, to_offset: int, chunks: list[Any]
) -> bool:
    """Move an upload's offset on, only if nobody moved it since ``from_offset`` was read."""
    result = session.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.offset == from_offset)
        .values(offset=to_offset, chunks=chunks)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_upload(session: Session, upload_id: str) -> None:
    session.execute(delete(Upload).where(Upload.id == upload_id))


def delete_expired_uploads(session: Session, now: dt.datetime) -> int:
    result = session.execute(
        delete(Upload).where(Upload.expires_at <= now).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def stream_upload_chunks(session: Session) -> Iterator[Row[str, list[list[object]]]]:
    """(id, chunks) of every upload row, expired or not (its chunks are needed until it goes)."""
    query = select(Upload.id, Upload.chunks).order_by(Upload.id)
    # Closed when the caller stops early too (a server-side cursor on PostgreSQL).
    with session.execute(query.execution_options(yield_per=1000)) as result:
        yield from result


def uploads_by_id(session: Session, ids: Iterable[str]) -> list[Upload]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(session.scalars(select(Upload).where(Upload.id.in_(wanted))))
