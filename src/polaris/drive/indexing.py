"""What search needs of the drive: the nodes to index, read for background jobs (not authorised:
no caller is acting), and at query time what a *searcher* reaches and may read now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.drive import repo, spaces, stamps
from polaris.drive._locate import Located as Located  # what ``located`` hands out, for search
from polaris.drive._locate import locate, locate_many
from polaris.drive._reach import MatchCheck as MatchCheck  # the check of a search's matches
from polaris.drive._reach import ReachedSpaces as ReachedSpaces  # spaces and roots' levels
from polaris.drive._reach import reached_spaces as reached_spaces  # for search
from polaris.drive._reach import readable_space_ids, shared_root_ids
from polaris.drive.models import FILE, Node


@dataclass(frozen=True)
class IndexedNode:
    node_id: int
    space_id: int
    #: Node ids from the space's root to this node, inclusive.
    ancestors: tuple[int, ...]
    name: str
    is_file: bool
    content_type: str | None
    #: The effective level: the highest on the path.
    classification: int
    owner_id: int | None
    unit_id: int | None
    modified_at: dt.datetime
    version_id: int | None


def located_for_index(session: Session, node_ids: Sequence[int]) -> dict[int, Located]:
    """The nodes a pass of index jobs will read, found together (a few queries for the pass,
    not two a node); give the result to :func:`nodes_for_index` as ``known``."""
    return locate_many(session, node_ids)


def nodes_for_index(
    session: Session,
    node_id: int,
    *,
    subtree: bool,
    known: dict[int, Located] | None = None,
) -> tuple[list[IndexedNode], list[int]]:
    """(live nodes to index, ids to remove from the index) for a node, or its whole subtree.

    A node in the trash (or below a trashed folder) is removed; so is one that is gone. Space
    roots are never indexed: they stand for the space itself. ``known``: nodes already found
    by :func:`located_for_index` in the same snapshot (one missing from it is gone).
    """
    located = known.get(node_id) if known is not None else locate(session, node_id)
    if located is None:
        return [], [node_id]
    top = located.node
    nodes = repo.subtree(session, top) if subtree else [top]
    inherited = max((node.classification for node in located.ancestors), default=0)
    trashed_above = any(node.trashed_at is not None for node in located.ancestors)
    level: dict[int, int] = {}
    trashed: dict[int, bool] = {}
    live: list[IndexedNode] = []
    gone: list[int] = []
    space = located.space
    for node in nodes:  # parents before children
        parent_level = inherited if node.id == top.id else level[node.parent_id or 0]
        parent_trashed = trashed_above if node.id == top.id else trashed[node.parent_id or 0]
        level[node.id] = max(parent_level, node.classification)
        trashed[node.id] = parent_trashed or node.trashed_at is not None
        if node.parent_id is None:
            continue
        if trashed[node.id]:
            gone.append(node.id)
            continue
        live.append(_indexed(node, level[node.id], space.id, space.owner_id, space.unit_id))
    return live, gone


def _indexed(
    node: Node, level: int, space_id: int, owner_id: int | None, unit_id: int | None
) -> IndexedNode:
    return IndexedNode(
        node_id=node.id,
        space_id=space_id,
        ancestors=tuple(int(part) for part in node.path.strip("/").split("/")),
        name=node.name,
        is_file=node.kind == FILE,
        content_type=node.content_type,
        classification=level,
        owner_id=owner_id,
        unit_id=unit_id,
        # As seen by the lowest clearance that sees the node at all: one entry serves every
        # searcher, so it shows no change made below the node at a higher level.
        modified_at=stamps.modified_seen(node, level),
        version_id=node.current_version_id,
    )


def space_roots(session: Session) -> list[int]:
    """Every space's root node, for rebuilding the whole index."""
    return repo.root_node_ids(session)


def readable(session: Session, actor: Actor, node_ids: Sequence[int]) -> set[int]:
    """Of these nodes, those the actor may read now and that are not in the trash.

    For search: the index may lag a move, a trashing or a raised classification by as long as its
    job queue, so every match is checked against the database before it is counted or shown
    (quietly: a stale hit is no attempt to be audited). Three statements however many ids
    (search checks up to 1,100 on every search); :class:`MatchCheck` also locates the page.
    """
    return MatchCheck(session, actor).readable(node_ids)


def located(session: Session, node_ids: Sequence[int]) -> dict[int, Located]:
    """The nodes of a page of results, located for showing (after :func:`readable`)."""
    return locate_many(session, node_ids)


def visible_space_ids(
    session: Session, actor: Actor, defaults: spaces.SpaceDefaults
) -> frozenset[int]:
    """The spaces the actor reads wholly (``spaces.visible_spaces``), as ids, for search."""
    return readable_space_ids(session, actor, defaults)


def shared_roots(session: Session, actor: Actor) -> frozenset[int]:
    """The nodes of the live shares reaching the actor: what the engine filters by (each match
    is then checked, see :func:`polaris.drive._reach.shared_root_ids`)."""
    return shared_root_ids(session, actor)
