"""The SQL of ``drive.stored``: what storage verification and garbage collection read of the
drive (every version's stored content, streamed, and the counts), and the names that tell an
operator which file a version is. Functions take the session first and never commit, like
``drive.repo``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from polaris.drive.models import FileVersion, Node, Space, Upload


def count_versions_and_uploads(session: Session) -> int:
    versions = session.scalar(select(func.count()).select_from(FileVersion)) or 0
    uploads = session.scalar(select(func.count()).select_from(Upload)) or 0
    return int(versions) + int(uploads)


def stream_version_content(
    session: Session,
) -> Iterator[Row[int, str, dict[str, object], int, str]]:
    """(id, manifest_id, content, size, sha256) of every version, a batch at a time."""
    query = select(
        FileVersion.id,
        FileVersion.manifest_id,
        FileVersion.content,
        FileVersion.size,
        FileVersion.sha256,
    ).order_by(FileVersion.id)
    # Closed when the caller stops early too (a server-side cursor on PostgreSQL).
    with session.execute(query.execution_options(yield_per=1000)) as result:
        yield from result


def versions_with_nodes(
    session: Session, ids: Iterable[int]
) -> list[Row[int, int, int, str, int, str]]:
    """(version id, number, node id, node path, space id, space name) of the given versions."""
    wanted = list(ids)
    if not wanted:
        return []
    query = (
        select(FileVersion.id, FileVersion.number, Node.id, Node.path, Space.id, Space.name)
        .join(Node, Node.id == FileVersion.node_id)
        .join(Space, Space.id == Node.space_id)
        .where(FileVersion.id.in_(wanted))
    )
    return list(session.execute(query).all())


def node_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {
        row[0]: row[1]
        for row in session.execute(select(Node.id, Node.name).where(Node.id.in_(wanted)))
    }
