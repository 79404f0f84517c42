"""The drive's read hot path in SQLAlchemy Core: a node and the caller's spaces as plain rows.

``_locate.locate`` loads a node, its space, its ancestors and their shares as ORM objects, and
``spaces.existing_visible_spaces`` the spaces with their roots: identity-mapped instances whose
loading was about a fifth of a metadata GET's CPU. The node GET and the spaces listing only read
and answer, so here the same two statements (and the one of the spaces) are prebuilt Core
statements whose rows are used as they come (``drive.fields`` protocols), in the request's
read-only transaction. What is read, and what ``access`` decides from it, are those of
``_locate.require_node`` and ``spaces.existing_visible_spaces``:

- :func:`locate` runs its two statements whether the node exists or not, and
  :func:`require_seen` refuses a missing node (or one in the trash) and a hidden one alike,
  through ``access.deny_missing`` and ``access.require``, as ``require_node`` does;
- the writers keep the ORM; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Resource
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import repo
from polaris.drive._locate import NO_ID, RESOURCE_KIND, LocatedView
from polaris.drive.fields import NodeFields, PathFields, ShareFields, SpaceFields
from polaris.drive.models import Node, Share, Space

_NODE = Node.__table__
_SPACE = Space.__table__
_SHARE = Share.__table__

#: A space's and a share's columns in a row joined to a node's, as ``s__<name>`` and
#: ``sh__<name>`` (no column of a node starts so); of a share, those a grant is made of.
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
    """The prefixed columns of a joined row (``s__*``, ``sh__*``) as attributes."""

    values: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def _part(row: Any, prefix: str, names: tuple[str, ...]) -> _Row:
    mapping = row._mapping
    return _Row({name: mapping[prefix + name] for name in names})


@dataclass(frozen=True)
class Seen(LocatedView):
    """A node in its context, as plain rows: ``_locate.Located`` for an answer that only reads;
    what both derive is ``_locate.LocatedView``'s."""

    node: NodeFields
    space: SpaceFields
    ancestors: tuple[PathFields, ...]
    shares: tuple[ShareFields, ...]


def locate(session: Session, node_id: int) -> Seen | None:
    """``_locate.locate`` in Core: always two statements, found or not, root or not."""
    connection = session.connection()
    found = connection.execute(_NODE_AND_SPACE, {"node_id": node_id}).first()
    ids = repo.path_ids(found.path) if found is not None else [NO_ID]
    params: dict[str, Any] = {f"n{index}": i for index, i in enumerate(ids)}
    params["now"] = utcnow()
    rows = connection.execute(_path_and_shares(len(ids)), params).all()
    if found is None:
        return None
    by_id: dict[int, PathFields] = {}
    shares: dict[int, ShareFields] = {}
    for row in rows:
        by_id[row.id] = cast(PathFields, row)
        if row.sh__id is not None:
            shares[row.sh__id] = cast(ShareFields, _part(row, "sh__", _SHARE_NAMES))
    ancestors = tuple(by_id[i] for i in ids[:-1] if i in by_id)
    if len(ancestors) != len(ids) - 1:
        return None
    return Seen(
        node=cast(NodeFields, found),
        space=cast(SpaceFields, _part(found, "s__", _SPACE_NAMES)),
        ancestors=ancestors,
        shares=tuple(shares[key] for key in sorted(shares)),
    )


def require_seen(
    *, session: Session, actor: Actor, context: AuditContext, node_id: int, action: Action
) -> Seen:
    """``_locate.require_node`` (not in the trash) on plain rows: the node if the actor may do
    ``action`` to it; a missing node is refused as a hidden one is (audited, the same answer)."""
    seen = locate(session, node_id)
    if seen is None or seen.in_trash:
        access.deny_missing(
            session=session,
            actor=actor,
            kind=RESOURCE_KIND,
            object_id=node_id,
            action=action,
            context=context,
        )
    access.require(
        session=session, actor=actor, action=action, resource=seen.resource(), context=context
    )
    return seen


def visible_spaces(session: Session, actor: Actor) -> list[SpaceFields] | None:
    """``spaces.existing_visible_spaces`` in Core: the caller's own space, their unit's and those
    within their reach that exist and whose root they may read, own space first; None when one
    of them is still to be made (the caller then makes it in a write transaction)."""
    if actor.disabled:
        return []
    unit_ids = [actor.unit_id]
    if Action.READ in actor.subtree_actions:
        unit_ids += sorted(actor.descendant_unit_ids)
    params = {"owner_id": actor.user_id, "unit_ids": unit_ids}
    found = session.connection().execute(_SPACES_WITH_ROOTS, params).all()
    existing = {row.unit_id for row in found if row.kind == "unit"}
    if not any(row.kind == "user" for row in found) or any(u not in existing for u in unit_ids):
        return None
    order = {unit_id: index for index, unit_id in enumerate(unit_ids, start=1)}
    ranked = sorted(found, key=lambda row: order.get(row.unit_id or 0, 0))  # own space first
    return [cast(SpaceFields, row) for row in ranked if _can_read_root(actor, row)]


def _can_read_root(actor: Actor, row: Any) -> bool:
    if row.root_id is None:
        return False
    level = Classification(row.root_classification)
    resource = Resource(
        kind=RESOURCE_KIND,
        id=str(row.root_id),
        unit_id=row.unit_id,
        classification=level,
        owner_id=row.owner_id,
        grants=(),
    )
    return access.can(actor, Action.READ, resource)
