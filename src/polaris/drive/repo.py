"""The SQL of the drive's spaces, nodes and versions. Functions take the session first and never
commit. Shares have theirs in ``drive.shares_repo``, what the blob store keeps in
``drive.stored_repo``, uploads, search's reach and retention in their own ``*_repo`` modules."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from polaris.drive import stamps
from polaris.drive.models import FILE, FOLDER, FileVersion, Node, Share, Space
from polaris.identity.models import Unit, User


def new_etag() -> str:
    return secrets.token_hex(8)


def path_ids(path: str) -> list[int]:
    """``"/1/7/42/"`` → ``[1, 7, 42]`` (root first, the node itself last)."""
    return [int(part) for part in path.strip("/").split("/") if part]


# Spaces


def get_space(session: Session, space_id: int) -> Space | None:
    return session.get(Space, space_id)


def user_space(session: Session, user_id: int) -> Space | None:
    return session.scalar(select(Space).where(Space.kind == "user", Space.owner_id == user_id))


_SPACES_WITH_ROOTS = (
    select(Space, Node)
    .join(Node, Node.id == Space.root_id)
    .where(
        or_(
            and_(Space.kind == "user", Space.owner_id == bindparam("owner_id")),
            and_(Space.kind == "unit", Space.unit_id.in_(bindparam("unit_ids", expanding=True))),
        )
    )
)


def spaces_with_roots(
    session: Session, *, owner_id: int, unit_ids: Sequence[int]
) -> list[tuple[Space, Node]]:
    """The personal space of ``owner_id`` and the spaces of ``unit_ids`` that exist, each with
    its root folder, in one query."""
    params = {"owner_id": owner_id, "unit_ids": list(unit_ids)}
    return [(space, root) for space, root in session.execute(_SPACES_WITH_ROOTS, params)]


def unit_spaces(session: Session, unit_ids: Iterable[int]) -> list[Space]:
    ids = list(unit_ids)
    if not ids:
        return []
    return list(
        session.scalars(select(Space).where(Space.kind == "unit", Space.unit_id.in_(ids))).all()
    )


def reserve_bytes(session: Session, space_id: int, size: int) -> bool:
    """Add ``size`` to the space's usage if its quota allows; False (and no change) otherwise.

    One conditional UPDATE, so two concurrent uploads cannot both slip under the quota.
    """
    session.flush()  # as the ORM's UPDATE would, before it
    result = session.connection().execute(_RESERVE, {"space_id": space_id, "size": size})
    return bool(result.rowcount)


_SPACE_TABLE = cast(Table, Space.__table__)
#: :func:`reserve_bytes`'s statement, prebuilt (Core: it runs in every upload's transaction).
_RESERVE = (
    update(_SPACE_TABLE)
    .where(
        _SPACE_TABLE.c.id == bindparam("space_id"),
        or_(
            _SPACE_TABLE.c.quota_bytes.is_(None),
            _SPACE_TABLE.c.used_bytes + bindparam("size") <= _SPACE_TABLE.c.quota_bytes,
        ),
    )
    .values(used_bytes=_SPACE_TABLE.c.used_bytes + bindparam("size"))
)


def release_bytes(session: Session, space_id: int, size: int) -> None:
    session.execute(
        update(Space)
        .where(Space.id == space_id)
        .values(used_bytes=Space.used_bytes - size)
        .execution_options(synchronize_session=False)
    )


def lock_space_usage(session: Session, space_id: int) -> int | None:
    """The space's recorded usage, its row locked until the transaction ends (so no upload
    reserves meanwhile); None when the space is gone."""
    return session.scalar(select(Space.used_bytes).where(Space.id == space_id).with_for_update())


def space_content_bytes(session: Session, space_id: int) -> int:
    """Bytes of every version of every file in the space: what its usage must be."""
    total = session.scalar(
        select(func.coalesce(func.sum(FileVersion.size), 0))
        .join(Node, Node.id == FileVersion.node_id)
        .where(Node.space_id == space_id)
    )
    return int(total or 0)


def set_used_bytes(session: Session, space_id: int, used: int) -> None:
    session.execute(
        update(Space)
        .where(Space.id == space_id)
        .values(used_bytes=used)
        .execution_options(synchronize_session=False)
    )


# Nodes


def get_node(session: Session, node_id: int) -> Node | None:
    return session.get(Node, node_id)


# Built once: a statement made per call costs more Python than the query itself, and a reused
# one keeps its cache key (``locate`` runs on nearly every request).
_NODE_AND_SPACE = (
    select(Node, Space)
    .join(Space, Space.id == Node.space_id)
    .where(Node.id == bindparam("node_id"))
)
_PATH_AND_SHARES = (
    select(Node, Share)
    .outerjoin(
        Share,
        and_(
            Share.node_id == Node.id,
            Share.revoked_at.is_(None),
            or_(Share.expires_at.is_(None), Share.expires_at > bindparam("now")),
        ),
    )
    .where(Node.id.in_(bindparam("ids", expanding=True)))
)


def node_and_space(session: Session, node_id: int) -> tuple[Node | None, Space | None]:
    """A node and its space, in one query (none if the node is already in the session)."""
    known = session.identity_map.get(session.identity_key(Node, node_id))
    if isinstance(known, Node):
        return known, session.get(Space, known.space_id)
    found = session.execute(_NODE_AND_SPACE, {"node_id": node_id}).first()
    return (None, None) if found is None else (found[0], found[1])


def path_nodes_and_shares(
    session: Session, ids: Sequence[int], *, now: dt.datetime
) -> tuple[dict[int, Node], list[Share]]:
    """The nodes ``ids`` (a path; not empty) and the live, unexpired shares on them, in one
    query."""
    nodes: dict[int, Node] = {}
    shares: dict[int, Share] = {}
    for node, share in session.execute(_PATH_AND_SHARES, {"ids": list(ids), "now": now}):
        nodes[node.id] = node
        if share is not None:
            shares[share.id] = share
    return nodes, [shares[key] for key in sorted(shares)]


def nodes_by_id(session: Session, ids: Sequence[int]) -> dict[int, Node]:
    if not ids:
        return {}
    return {node.id: node for node in session.scalars(select(Node).where(Node.id.in_(ids)))}


def live_child(session: Session, parent_id: int, name: str) -> Node | None:
    return session.scalar(
        select(Node).where(
            Node.parent_id == parent_id, Node.name == name, Node.trashed_at.is_(None)
        )
    )


def touch(
    session: Session, ids: Iterable[int], *, level: int, now: dt.datetime | None = None
) -> str:
    """Give the nodes (a node and its ancestors) a new ETag at ``level`` and above (a change to
    something of that level: see ``polaris.drive.stamps``); return it.

    A prebuilt Core ``UPDATE``; the loaded ``Node`` objects of those ids get the new values as
    they are now in the database. (The ORM's ``synchronize_session="evaluate"`` did the same by
    testing the ``WHERE`` against every object in the session: a group commit's session holds
    the nodes of a whole batch, and that was the largest single cost of recording an upload.)"""
    etag = new_etag()
    values = stamps.renewed(level, etag, now)
    wanted = sorted(set(ids))
    session.flush()  # pending changes to these rows first, as the ORM's UPDATE would
    session.connection().execute(
        _touch_statement(tuple(values)), {**{f"v_{k}": v for k, v in values.items()}, "ids": wanted}
    )
    for node_id in wanted:
        loaded = session.identity_map.get(session.identity_key(Node, node_id))
        if isinstance(loaded, Node):
            for name, value in values.items():
                set_committed_value(loaded, name, value)
    return etag


@functools.cache
def _touch_statement(columns: tuple[str, ...]) -> Any:
    """``UPDATE node SET <columns> WHERE id IN :ids``, built once per set of columns."""
    table = cast(Table, Node.__table__)
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .values({name: bindparam(f"v_{name}") for name in columns})
    )


def touch_subtree(session: Session, node: Node, *, level: int, now: dt.datetime) -> None:
    """Renew the stamps at ``level`` and above of ``node`` and everything below it (what a
    caller of that level sees below it changed: it was reclassified)."""
    session.execute(
        update(Node)
        .where(Node.path.like(_like_prefix(node.path)))
        .values(**stamps.renewed(level, new_etag(), now))
        .execution_options(synchronize_session="fetch")
    )


def subtree(session: Session, node: Node, *, include_self: bool = True) -> list[Node]:
    """The node and everything below it, parents before children."""
    query = select(Node).where(Node.path.like(_like_prefix(node.path)))
    if not include_self:
        query = query.where(Node.id != node.id)
    return list(session.scalars(query.order_by(func.length(Node.path), Node.id)).all())


def node_ids_after(session: Session, after: int, *, limit: int) -> list[int]:
    """The next ``limit`` node ids above ``after``, in order (to walk every node in pages)."""
    query = select(Node.id).where(Node.id > after).order_by(Node.id).limit(limit)
    return list(session.scalars(query))


def root_node_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Node.id).where(Node.parent_id.is_(None)).order_by(Node.id)))


def move_subtree(session: Session, node: Node, new_parent: Node) -> None:
    """Re-root ``node``'s subtree under ``new_parent`` (paths and space), in one statement."""
    old_prefix = node.path
    new_prefix = f"{new_parent.path}{node.id}/"
    session.execute(
        update(Node)
        .where(Node.path.like(_like_prefix(old_prefix)))
        .values(
            path=literal(new_prefix).op("||")(func.substr(Node.path, len(old_prefix) + 1)),
            space_id=new_parent.space_id,
        )
        .execution_options(synchronize_session="fetch")
    )


def subtree_size(session: Session, node: Node) -> int:
    """Bytes of every version of every file in the subtree (what its space's quota counts)."""
    total = session.scalar(
        select(func.coalesce(func.sum(FileVersion.size), 0))
        .join(Node, Node.id == FileVersion.node_id)
        .where(Node.path.like(_like_prefix(node.path)))
    )
    return int(total or 0)


def _like_prefix(path: str) -> str:
    # Paths hold only digits and '/', so there is nothing to escape.
    return f"{path}%"


def children_page(
    session: Session,
    *,
    parent_id: int,
    max_classification: int,
    sort_field: str,
    descending: bool,
    after: Sequence[Any] | None,
    limit: int,
) -> list[Node]:
    """Live children of a folder at or below a level, folders first, then by the column
    ``sort_field`` and id (both ``descending`` or not), after a cursor ``(is_file, value, id)``;
    one statement (:func:`_page_statement`)."""
    params: dict[str, Any] = {
        "parent_id": parent_id,
        "max_classification": max_classification,
        "limit": limit,
    }
    after_kind = None
    if after is not None:
        after_file, params["after_value"], params["after_id"] = after
        after_kind = FILE if after_file else FOLDER
    query = _page_statement(sort_field, descending, after_kind)
    return list(session.scalars(query, params).all())


@functools.lru_cache(maxsize=64)
def _page_statement(sort_field: str, descending: bool, after_kind: str | None) -> Select[Any]:
    """The statement of a page, built once per order and cursor position (building it, with its
    subqueries' columns, cost more than running it: 5 ms against 1 at 10,000 children).

    Each kind is read by a query of its own, in an order the index ``ix_node_live_children``
    (parent, kind, name, id; live nodes) gives, stopping after ``limit`` rows; the two are joined
    with ``UNION ALL`` and only their at most ``2 × limit`` rows are sorted again. A single query
    ordered by ``kind = 'file'`` first could use no index for that order and sorted the whole
    folder for every page (the time of a page grew with the folder's size).
    """
    column = getattr(Node, sort_field)
    value: BindParameter[Any] = bindparam("after_value")
    node_id: BindParameter[int] = bindparam("after_id")
    if descending:
        after = or_(column < value, and_(column == value, Node.id < node_id))
        ordered = [column.desc(), Node.id.desc()]
    else:
        after = or_(column > value, and_(column == value, Node.id > node_id))
        ordered = [column.asc(), Node.id.asc()]
    parts = []
    for kind in (FOLDER, FILE):
        if after_kind == FILE and kind == FOLDER:
            continue  # the cursor is among the files: every folder came before it
        query = select(Node).where(
            Node.parent_id == bindparam("parent_id"),
            Node.kind == kind,
            Node.trashed_at.is_(None),
            Node.classification <= bindparam("max_classification"),
        )
        if after_kind == kind:
            query = query.where(after)
        # A subquery each: SQLite takes no ORDER BY or LIMIT on a member of a UNION.
        parts.append(select(query.order_by(*ordered).limit(bindparam("limit")).subquery()))
    both = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()
    page = aliased(Node, both)
    again = [getattr(page, sort_field), page.id]  # at most 2 × limit rows to sort
    return (
        select(page)
        .order_by(page.kind == FILE, *[c.desc() if descending else c.asc() for c in again])
        .limit(bindparam("limit"))
    )


def trashed_in_space(session: Session, space_id: int) -> list[Node]:
    """Nodes marked deleted in a space, newest first (what went with them is not marked)."""
    return list(
        session.scalars(
            select(Node)
            .where(Node.space_id == space_id, Node.trashed_at.is_not(None))
            .order_by(Node.trashed_at.desc(), Node.id.desc())
        ).all()
    )


# Versions


def versions_by_id(session: Session, ids: Iterable[int]) -> dict[int, FileVersion]:
    wanted = list(ids)
    if not wanted:
        return {}
    found = session.scalars(select(FileVersion).where(FileVersion.id.in_(wanted)))
    return {version.id: version for version in found}


def versions_of(session: Session, node_id: int) -> list[FileVersion]:
    return list(
        session.scalars(
            select(FileVersion).where(FileVersion.node_id == node_id).order_by(FileVersion.number)
        ).all()
    )


def next_version_number(session: Session, node_id: int) -> int:
    current = session.scalar(
        select(func.max(FileVersion.number)).where(FileVersion.node_id == node_id)
    )
    return int(current or 0) + 1


def version_ids_by_node(session: Session, node_ids: Sequence[int]) -> dict[int, list[int]]:
    """The ids of every version of these nodes, by node."""
    found: dict[int, list[int]] = {}
    for start in range(0, len(node_ids), 500):
        rows = session.execute(
            select(FileVersion.node_id, FileVersion.id).where(
                FileVersion.node_id.in_(node_ids[start : start + 500])
            )
        )
        for node_id, version_id in rows:
            found.setdefault(node_id, []).append(version_id)
    return found


def delete_subtree_rows(session: Session, ids: Sequence[int]) -> None:
    """Remove the rows of purged nodes: shares, versions, then nodes (children first)."""
    session.execute(delete(Share).where(Share.node_id.in_(ids)))
    session.execute(delete(FileVersion).where(FileVersion.node_id.in_(ids)))
    session.execute(
        update(Node).where(Node.id.in_(ids)).values(parent_id=None, current_version_id=None)
    )
    session.execute(delete(Node).where(Node.id.in_(ids)))


# Units (read for the spaces of the units in someone's reach)


def units_by_id(session: Session, ids: Iterable[int]) -> dict[int, Unit]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {unit.id: unit for unit in session.scalars(select(Unit).where(Unit.id.in_(wanted)))}


def node_facts(session: Session, ids: Sequence[int]) -> list[Any]:
    """``(id, path, space_id, classification, trashed_at)`` of these nodes, as plain rows: search
    checks a thousand matches on every search, and ORM objects cost ten times as much."""
    if not ids:
        return []
    columns = (Node.id, Node.path, Node.space_id, Node.classification, Node.trashed_at)
    return list(session.execute(select(*columns).where(Node.id.in_(ids))).all())


def spaces_by_id(session: Session, ids: Iterable[int]) -> dict[int, Space]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {space.id: space for space in session.scalars(select(Space).where(Space.id.in_(wanted)))}


def user_names(session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    """ "Full name (username)" of each user, to say who saved a version."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, User.full_name, User.username).where(User.id.in_(set(user_ids)))
    )
    return {row.id: f"{row.full_name} ({row.username})" for row in rows}
