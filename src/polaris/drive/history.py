"""What a file's history says, for whoever follows the drive without a caller (the ransomware
guard in ``polaris.resilience``): names, the version before a version, the files an account
changed since a time and the version each had then. Not authorised: no user is acting; a
caller that acts on what it finds goes through ``drive.content`` (as the guard's restore does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from polaris.drive import repo
from polaris.drive.models import FileVersion, Node


def node_name(session: Session, node_id: int) -> str | None:
    """The node's name, None when it is gone."""
    node = repo.get_node(session, node_id)
    return None if node is None else node.name


def node_names(session: Session, node_ids: Iterable[int]) -> dict[int, str]:
    """:func:`node_name` for many nodes in one query; gone ones are left out."""
    wanted = sorted(set(node_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Node.id, Node.name).where(Node.id.in_(wanted)))
    return {node_id: name for node_id, name in rows}


def versions_and_previous(
    session: Session, version_ids: Iterable[int]
) -> dict[int, tuple[FileVersion, FileVersion | None]]:
    """Each version with the one before it (:func:`previous_version`), in two queries for the
    usual case (numbers without gaps); gone versions are left out."""
    wanted = sorted(set(version_ids))
    if not wanted:
        return {}
    versions = session.scalars(select(FileVersion).where(FileVersion.id.in_(wanted))).all()
    later = [v for v in versions if v.number > 1]
    before: dict[tuple[int, int], FileVersion] = {}
    if later:
        pairs = [(v.node_id, v.number - 1) for v in later]
        query = select(FileVersion).where(
            tuple_(FileVersion.node_id, FileVersion.number).in_(pairs)
        )
        before = {(v.node_id, v.number): v for v in session.scalars(query)}
    found: dict[int, tuple[FileVersion, FileVersion | None]] = {}
    for version in versions:
        previous = before.get((version.node_id, version.number - 1))
        if previous is None and version.number > 1:
            previous = previous_version(session, version)  # a gap: purged versions between
        found[version.id] = (version, previous)
    return found


def previous_version(session: Session, version: FileVersion) -> FileVersion | None:
    """The version of the same file numbered just below ``version`` (None for a first one)."""
    return session.scalar(
        select(FileVersion)
        .where(FileVersion.node_id == version.node_id, FileVersion.number < version.number)
        .order_by(FileVersion.number.desc())
        .limit(1)
    )


def files_changed_since(session: Session, *, user_id: int, since: dt.datetime) -> list[int]:
    """The ids of the files ``user_id`` added a version to at or after ``since``, in id order."""
    query = (
        select(FileVersion.node_id)
        .where(FileVersion.created_by == user_id, FileVersion.created_at >= since)
        .distinct()
        .order_by(FileVersion.node_id)
    )
    return list(session.scalars(query))


def version_at(session: Session, *, node_id: int, at: dt.datetime) -> FileVersion | None:
    """The version that was current just before ``at`` (None: the file did not exist yet)."""
    return session.scalar(
        select(FileVersion)
        .where(FileVersion.node_id == node_id, FileVersion.created_at < at)
        .order_by(FileVersion.number.desc())
        .limit(1)
    )


def current_sha256(session: Session, node_id: int) -> str | None:
    node = session.get(Node, node_id)
    return None if node is None else node.sha256


@dataclass(frozen=True)
class Place:
    name: str
    parent_id: int | None
    #: The node itself is in the trash (not only inside a deleted folder).
    trashed: bool


def place_of(session: Session, node_id: int) -> Place | None:
    """Where the node is now; None when it is gone (purged)."""
    node = repo.get_node(session, node_id)
    if node is None:
        return None
    return Place(name=node.name, parent_id=node.parent_id, trashed=node.trashed_at is not None)
