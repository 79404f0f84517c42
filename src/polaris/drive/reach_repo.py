"""The SQL of ``drive._reach``: what search reads on every request, as plain rows where there are
many (ORM objects cost ten times as much), and one statement per table whatever the number of ids
(and one parameter: see :func:`_among`). Functions take the session first and
never commit."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal, or_, select, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from polaris.drive.models import Node, Share, Space


def _among(session: Session, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
    """``column IN ids`` with one parameter however many ids: an array on PostgreSQL
    (``= ANY``), a JSON list on SQLite (``IN (SELECT value FROM json_each(?))``; SQLite's JSON
    functions are built in since 3.38, and Debian's and Python's own builds had them before).

    An ``IN (?, ?, ...)`` of the 2,000 ids a search checks (HQ's matches and the folders above
    them) cost 9 ms of CPU to render and bind on every search, where this costs 3.
    """
    wanted = sorted(set(ids))
    if session.get_bind().dialect.name == "postgresql":
        array = postgresql.ARRAY(Integer)
        return column == func.any(cast(literal(wanted, array), array))  # type: ignore[no-any-return]
    listed = func.json_each(literal(json.dumps(wanted))).table_valued("value")
    return column.in_(select(listed.c.value))  # type: ignore[no-any-return]


def _is_set(column: Any) -> ColumnElement[int]:
    """1 when ``column`` holds a value, as a plain integer (no type conversion a row)."""
    return type_coerce(column.is_not(None), Integer)


def node_facts(session: Session, ids: Collection[int]) -> list[Any]:
    """``(id, path, classification, trashed, unit_id, owner_id)`` of these nodes (the last two
    are their space's); a node whose space is gone is left out. ``trashed``: this node itself was
    put in the trash (a flag, not the time: a thousand times cast, it costs)."""
    query = (
        select(
            Node.id,
            Node.path,
            Node.classification,
            _is_set(Node.trashed_at).label("trashed"),
            Space.unit_id,
            Space.owner_id,
        )
        .join(Space, Space.id == Node.space_id)
        .where(_among(session, Node.id, ids))
    )
    return list(session.connection().execute(query).all())


def node_levels(session: Session, ids: Collection[int]) -> list[Any]:
    """``(id, classification, trashed)`` of these nodes (``trashed`` as in :func:`node_facts`)."""
    query = select(Node.id, Node.classification, _is_set(Node.trashed_at).label("trashed"))
    return list(session.connection().execute(query.where(_among(session, Node.id, ids))).all())


def live_shares(session: Session, ids: Collection[int], *, now: dt.datetime) -> list[Share]:
    """Unrevoked, unexpired shares on these nodes, oldest first (few: most nodes have none)."""
    query = select(Share).where(
        _among(session, Share.node_id, ids),
        Share.revoked_at.is_(None),
        or_(Share.expires_at.is_(None), Share.expires_at > now),
    )
    return list(session.scalars(query.order_by(Share.id)).all())


def nodes_with_spaces(session: Session, ids: Collection[int]) -> list[tuple[Node, Space]]:
    """These nodes with their spaces, in one statement (a page of hits and their ancestors)."""
    query = select(Node, Space).join(Space, Space.id == Node.space_id)
    rows = session.execute(query.where(_among(session, Node.id, ids)))
    return [(node, space) for node, space in rows]


def reached_space_roots(session: Session, *, owner_id: int, unit_ids: Collection[int]) -> list[Any]:
    """``(id, kind, unit_id, owner_id, root_id, root_classification)`` of the personal space of
    ``owner_id`` and of the spaces of ``unit_ids``, those that exist and have a root.

    The root's level is a subquery a space (a primary-key lookup each), not a join: for HQ's
    1,050 spaces PostgreSQL joined by merging along the whole node key, 0.9 s at 1M nodes.
    """
    root = aliased(Node)
    level = select(root.classification).where(root.id == Space.root_id).scalar_subquery()
    query = select(
        Space.id,
        Space.kind,
        Space.unit_id,
        Space.owner_id,
        Space.root_id,
        level.label("root_classification"),
    ).where(
        Space.root_id.is_not(None),
        or_(
            and_(Space.kind == "user", Space.owner_id == owner_id),
            and_(Space.kind == "unit", _among(session, Space.unit_id, unit_ids)),
        ),
    )
    rows = session.connection().execute(query).all()
    return [row for row in rows if row.root_classification is not None]  # a root that is gone
