"""The SQL of ``drive._reach``: what search reads on every request, as plain rows where there are
many (ORM objects cost ten times as much), and one statement per table whatever the number of ids
(and one parameter: see :func:`_among`). Functions take the session first and never commit.

Each statement is built once per dialect (:func:`_built`) and run with its parameters: building a
``select`` and its cache key again on every search cost about as much CPU as reading its rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from polaris.drive.models import Node, Share, Space


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _among(dialect: str, column: Any, name: str = "ids") -> ColumnElement[bool]:
    """``column IN ids`` with one parameter ``name`` however many ids: an array on PostgreSQL
    (``= ANY``), a JSON list on SQLite (``IN (SELECT value FROM json_each(?))``; SQLite's JSON
    functions are built in since 3.38, and Debian's and Python's own builds had them before).
    The value comes from :func:`_ids`.

    An ``IN (?, ?, ...)`` of the 2,000 ids a search checks (HQ's matches and the folders above
    them) cost 9 ms of CPU to render and bind on every search, where this costs 3.
    """
    if dialect == "postgresql":
        array = postgresql.ARRAY(Integer)
        return column == func.any(cast(bindparam(name, type_=array), array))  # type: ignore[no-any-return]
    listed = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))  # type: ignore[no-any-return]


def _ids(dialect: str, ids: Collection[int]) -> Any:
    """The value of an :func:`_among` parameter."""
    wanted = sorted(set(ids))
    return wanted if dialect == "postgresql" else json.dumps(wanted)


@functools.cache
def _built(build: Callable[[str], Executable], dialect: str) -> Executable:
    return build(dialect)


def _is_set(column: Any) -> ColumnElement[int]:
    """1 when ``column`` holds a value, as a plain integer (no type conversion a row)."""
    return type_coerce(column.is_not(None), Integer)


def _node_facts(dialect: str) -> Executable:
    return (
        select(
            Node.id,
            Node.path,
            Node.classification,
            _is_set(Node.trashed_at).label("trashed"),
            Space.unit_id,
            Space.owner_id,
        )
        .join(Space, Space.id == Node.space_id)
        .where(_among(dialect, Node.id))
    )


def node_facts(session: Session, ids: Collection[int]) -> list[Any]:
    """``(id, path, classification, trashed, unit_id, owner_id)`` of these nodes (the last two
    are their space's); a node whose space is gone is left out. ``trashed``: this node itself was
    put in the trash (a flag, not the time: a thousand times cast, it costs)."""
    dialect = _dialect(session)
    query = _built(_node_facts, dialect)
    return list(session.connection().execute(query, {"ids": _ids(dialect, ids)}).all())


def _node_levels(dialect: str) -> Executable:
    query = select(Node.id, Node.classification, _is_set(Node.trashed_at).label("trashed"))
    return query.where(_among(dialect, Node.id))


def node_levels(session: Session, ids: Collection[int]) -> list[Any]:
    """``(id, classification, trashed)`` of these nodes (``trashed`` as in :func:`node_facts`)."""
    dialect = _dialect(session)
    query = _built(_node_levels, dialect)
    return list(session.connection().execute(query, {"ids": _ids(dialect, ids)}).all())


def _live_shares(dialect: str) -> Executable:
    query = select(Share).where(
        _among(dialect, Share.node_id),
        Share.revoked_at.is_(None),
        or_(Share.expires_at.is_(None), Share.expires_at > bindparam("now")),
    )
    return query.order_by(Share.id)


def live_shares(session: Session, ids: Collection[int], *, now: dt.datetime) -> list[Share]:
    """Unrevoked, unexpired shares on these nodes, oldest first (few: most nodes have none)."""
    dialect = _dialect(session)
    query = _built(_live_shares, dialect)
    return list(session.scalars(query, {"ids": _ids(dialect, ids), "now": now}).all())


def _nodes_with_spaces(dialect: str) -> Executable:
    query = select(Node, Space).join(Space, Space.id == Node.space_id)
    return query.where(_among(dialect, Node.id))


def nodes_with_spaces(session: Session, ids: Collection[int]) -> list[tuple[Node, Space]]:
    """These nodes with their spaces, in one statement (a page of hits and their ancestors)."""
    dialect = _dialect(session)
    rows = session.execute(_built(_nodes_with_spaces, dialect), {"ids": _ids(dialect, ids)})
    return [(node, space) for node, space in rows]


def _reached_space_roots(dialect: str) -> Executable:
    root = aliased(Node)
    level = select(root.classification).where(root.id == Space.root_id).scalar_subquery()
    return select(
        Space.id,
        Space.kind,
        Space.unit_id,
        Space.owner_id,
        Space.root_id,
        level.label("root_classification"),
    ).where(
        Space.root_id.is_not(None),
        or_(
            and_(Space.kind == "user", Space.owner_id == bindparam("owner_id")),
            and_(Space.kind == "unit", _among(dialect, Space.unit_id)),
        ),
    )


def reached_space_roots(session: Session, *, owner_id: int, unit_ids: Collection[int]) -> list[Any]:
    """``(id, kind, unit_id, owner_id, root_id, root_classification)`` of the personal space of
    ``owner_id`` and of the spaces of ``unit_ids``, those that exist and have a root.

    The root's level is a subquery a space (a primary-key lookup each), not a join: for HQ's
    1,050 spaces PostgreSQL joined by merging along the whole node key, 0.9 s at 1M nodes.
    """
    dialect = _dialect(session)
    query = _built(_reached_space_roots, dialect)
    params = {"ids": _ids(dialect, unit_ids), "owner_id": owner_id}
    rows = session.connection().execute(query, params).all()
    return [row for row in rows if row.root_classification is not None]  # a root that is gone
