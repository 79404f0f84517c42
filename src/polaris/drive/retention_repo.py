"""The SQL of retention rules and of what the retention pass looks at (``drive.retention``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from polaris.drive.models import FileVersion, Node, RetentionRule


def rules(session: Session, *, rooms: bool | None = None) -> list[RetentionRule]:
    """Every rule; ``rooms`` True: only kinds of messenger room, False: only the drive's."""
    query = select(RetentionRule).order_by(RetentionRule.id)
    if rooms is not None:
        query = query.where(
            RetentionRule.room_kind.is_not(None) if rooms else RetentionRule.room_kind.is_(None)
        )
    return list(session.scalars(query))


def rule_for_target(
    session: Session,
    *,
    space_id: int | None,
    node_id: int | None,
    classification: int | None,
    room_kind: str | None = None,
) -> RetentionRule | None:
    query = select(RetentionRule).where(
        RetentionRule.room_kind.is_(None)
        if room_kind is None
        else RetentionRule.room_kind == room_kind,
        RetentionRule.space_id.is_(None)
        if space_id is None
        else RetentionRule.space_id == space_id,
        RetentionRule.node_id.is_(None) if node_id is None else RetentionRule.node_id == node_id,
        RetentionRule.classification.is_(None)
        if classification is None
        else RetentionRule.classification == classification,
    )
    return session.scalars(query).first()


def rules_applying(
    session: Session, *, space_id: int, node_ids: Sequence[int], levels: Sequence[int]
) -> list[RetentionRule]:
    """The rules of the space, of any of ``node_ids`` (folders) and of any of ``levels``."""
    clauses = [RetentionRule.space_id == space_id]
    for start in range(0, len(node_ids), 500):
        clauses.append(RetentionRule.node_id.in_(node_ids[start : start + 500]))
    if levels:
        clauses.append(RetentionRule.classification.in_(sorted(set(levels))))
    return list(session.scalars(select(RetentionRule).where(or_(*clauses))))


def old_noncurrent_versions(
    session: Session, *, created_before: dt.datetime, limit: int
) -> list[tuple[int, int]]:
    """(node id, version id) of versions that are not their file's current one and were made
    before ``created_before`` (a version superseded before a date was made before it)."""
    rows = session.execute(
        select(FileVersion.node_id, FileVersion.id)
        .join(Node, Node.id == FileVersion.node_id)
        .where(
            FileVersion.created_at <= created_before,
            Node.current_version_id.is_not(None),
            FileVersion.id != Node.current_version_id,
        )
        .order_by(FileVersion.node_id, FileVersion.number)
        .limit(limit)
    )
    return [(int(node_id), int(version_id)) for node_id, version_id in rows]


def trashed_before(session: Session, *, before: dt.datetime, limit: int) -> list[int]:
    """Nodes deleted (to the trash) at or before ``before``, oldest first."""
    return list(
        session.scalars(
            select(Node.id)
            .where(Node.trashed_at.is_not(None), Node.trashed_at <= before)
            .order_by(Node.trashed_at, Node.id)
            .limit(limit)
        )
    )


def delete_version(session: Session, version_id: int) -> None:
    """Remove one version row; what was derived from it goes with it (ON DELETE CASCADE)."""
    session.execute(delete(FileVersion).where(FileVersion.id == version_id))
