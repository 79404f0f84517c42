"""The SQL of the drive's read hot path (``drive._plain``) in SQLAlchemy Core: prebuilt statements
whose rows are used as they come, no ORM objects. Functions take the session first and never
commit, like ``drive.repo``, whose ``node_and_space``, ``path_nodes_and_shares`` and
``spaces_with_roots`` read the same rows as ORM objects (for the services that write).

A node's row is joined to its space's, and a path node's to its shares', with the space's and the
share's columns labelled ``s__<name>`` and ``sh__<name>`` (no column of a node starts so); the
functions here split them again, so that no caller knows the labels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Row, Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from polaris.drive.fields import NodeFields, PathFields, ShareFields, SpaceFields
from polaris.drive.models import Node, Share, Space

_NODE = Node.__table__
_SPACE = Space.__table__
_SHARE = Share.__table__

#: A space's columns, and of a share's those a grant is made of.
_SPACE_NAMES = tuple(column.key for column in _SPACE.c)
_SHARE_NAMES = (
    "id", "node_id", "subject_type", "subject_id", "permission", "include_subunits", "expires_at",
)  # fmt: skip
_SPACE_COLUMNS = [_SPACE.c[name].label(f"s__{name}") for name in _SPACE_NAMES]
_SHARE_COLUMNS = [_SHARE.c[name].label(f"sh__{name}") for name in _SHARE_NAMES]
#: Of the nodes on the path, what the node's place and level need (``PathFields``).
_PATH_COLUMNS = (_NODE.c.id, _NODE.c.name, _NODE.c.classification, _NODE.c.trashed_at)

_NODE_AND_SPACE = (
    select(_NODE, *_SPACE_COLUMNS)
    .join(_SPACE, _SPACE.c.id == _NODE.c.space_id)
    .where(_NODE.c.id == bindparam("node_id"))
)


@lru_cache(maxsize=64)
def _path_and_shares(depth: int) -> Select[Any]:
    """The nodes of a path of ``depth`` (``:n0`` ... root first) and their live shares; one
    statement per depth, built once, with a bind parameter per node (an expanding ``IN`` is
    rendered again at every execution: 90 µs of a node GET)."""
    return (
        select(*_PATH_COLUMNS, *_SHARE_COLUMNS)
        .outerjoin(
            _SHARE,
            and_(
                _SHARE.c.node_id == _NODE.c.id,
                _SHARE.c.revoked_at.is_(None),
                or_(_SHARE.c.expires_at.is_(None), _SHARE.c.expires_at > bindparam("now")),
            ),
        )
        .where(_NODE.c.id.in_([bindparam(f"n{index}") for index in range(depth)]))
    )


_SPACES_WITH_ROOTS = (
    select(_SPACE, _NODE.c.classification.label("root_classification"))
    .join(_NODE, _NODE.c.id == _SPACE.c.root_id)
    .where(
        or_(
            and_(_SPACE.c.kind == "user", _SPACE.c.owner_id == bindparam("owner_id")),
            and_(
                _SPACE.c.kind == "unit", _SPACE.c.unit_id.in_(bindparam("unit_ids", expanding=True))
            ),
        )
    )
)


@dataclass(frozen=True, slots=True)
class _Row:
    """The labelled columns of a joined row (``s__*``, ``sh__*``) as attributes."""

    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def _part(row: Row[Any], prefix: str, names: tuple[str, ...]) -> _Row:
    mapping = row._mapping
    return _Row({name: mapping[prefix + name] for name in names})


def node_and_space(session: Session, node_id: int) -> tuple[NodeFields, SpaceFields] | None:
    """A node and its space, in one statement; None if there is no such node."""
    found = session.connection().execute(_NODE_AND_SPACE, {"node_id": node_id}).first()
    if found is None:
        return None
    return cast(NodeFields, found), cast(SpaceFields, _part(found, "s__", _SPACE_NAMES))


def path_and_shares(
    session: Session, ids: Sequence[int], *, now: dt.datetime
) -> list[tuple[PathFields, ShareFields | None]]:
    """The nodes ``ids`` (a path; not empty), each with a live, unexpired share on it or None,
    in one statement: a node once per share on it."""
    params: dict[str, Any] = {f"n{index}": i for index, i in enumerate(ids)}
    params["now"] = now
    rows = session.connection().execute(_path_and_shares(len(ids)), params).all()
    return [
        (
            cast(PathFields, row),
            None if row.sh__id is None else cast(ShareFields, _part(row, "sh__", _SHARE_NAMES)),
        )
        for row in rows
    ]


def spaces_with_root_levels(
    session: Session, *, owner_id: int, unit_ids: Sequence[int]
) -> list[Row[Any]]:
    """The personal space of ``owner_id`` and the spaces of ``unit_ids`` that exist, each with
    its root folder's level (``root_classification``), in one statement."""
    params = {"owner_id": owner_id, "unit_ids": list(unit_ids)}
    return list(session.connection().execute(_SPACES_WITH_ROOTS, params).all())


#: The most names a path is resolved with in one statement; a deeper path is read in parts.
PATH_STEP = 16


@lru_cache(maxsize=PATH_STEP)
def _live_chain(depth: int) -> Select[Any]:
    """The live nodes named ``:name0`` ... below the folder ``:parent``, one level each, as the
    columns ``id<i>`` and ``level<i>``: one statement per depth, built once. Each level past the
    first is an outer join, so the row has the same shape whichever names exist: NULL from the
    first missing one down."""
    levels = [_NODE.alias(f"n{index}") for index in range(depth)]
    columns: list[Any] = []
    for index, level in enumerate(levels):
        columns += [level.c.id.label(f"id{index}"), level.c.classification.label(f"level{index}")]

    def named(index: int, parent: Any) -> Any:
        level = levels[index]
        return and_(
            level.c.parent_id == parent,
            level.c.name == bindparam(f"name{index}"),
            level.c.trashed_at.is_(None),
        )

    joined: Any = levels[0]
    for index in range(1, depth):
        joined = joined.outerjoin(levels[index], named(index, levels[index - 1].c.id))
    return select(*columns).select_from(joined).where(named(0, bindparam("parent")))


def live_chain(session: Session, parent_id: int, names: Sequence[str]) -> list[tuple[int, int]]:
    """The (id, own level) of the live nodes at ``names`` below the folder ``parent_id``, level
    by level, as far as they exist: shorter than ``names`` when one is missing. One statement
    for up to :data:`PATH_STEP` names, whether they exist or not."""
    found: list[tuple[int, int]] = []
    for start in range(0, len(names), PATH_STEP):
        part = names[start : start + PATH_STEP]
        params: dict[str, Any] = {f"name{index}": name for index, name in enumerate(part)}
        params["parent"] = found[-1][0] if found else parent_id
        row = session.connection().execute(_live_chain(len(part)), params).first()
        if row is None:
            return found
        for index in range(len(part)):
            node_id = row[2 * index]
            if node_id is None:
                return found
            found.append((node_id, row[2 * index + 1]))
    return found
