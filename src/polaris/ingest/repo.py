"""The ingest package's SQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import Session

from polaris.ingest.models import Rendition


def renditions_of(session: Session, version_id: int, kind: str) -> Sequence[Rendition]:
    return session.scalars(
        select(Rendition)
        .where(Rendition.version_id == version_id, Rendition.kind == kind)
        .order_by(Rendition.page)
    ).all()


def rendition(session: Session, version_id: int, kind: str, page: int) -> Rendition | None:
    return session.scalars(
        select(Rendition).where(
            Rendition.version_id == version_id, Rendition.kind == kind, Rendition.page == page
        )
    ).first()


def versions_with(session: Session, version_ids: Iterable[int], kind: str) -> set[int]:
    ids = list(version_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Rendition.version_id).where(
                Rendition.version_id.in_(ids), Rendition.kind == kind
            )
        ).all()
    )


def delete_for_versions(session: Session, version_ids: list[int]) -> None:
    for start in range(0, len(version_ids), 500):
        batch = version_ids[start : start + 500]
        session.execute(delete(Rendition).where(Rendition.version_id.in_(batch)))


# Stored content (storage verification and garbage collection)


def count_renditions(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Rendition)) or 0)


def stream_rendition_content(session: Session) -> Iterator[Row[int, dict[str, object]]]:
    """(id, content) of every rendition, a batch at a time."""
    query = select(Rendition.id, Rendition.content).order_by(Rendition.id)
    # Closed when the caller stops early too (a server-side cursor on PostgreSQL).
    with session.execute(query.execution_options(yield_per=1000)) as result:
        yield from result


def renditions_by_id(session: Session, ids: Iterable[int]) -> list[Rendition]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(session.scalars(select(Rendition).where(Rendition.id.in_(wanted))))
