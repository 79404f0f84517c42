"""Finding a node with everything the access rules need: its space, ancestors and shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Grant, Permission, Resource
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import repo, shares_repo
from polaris.drive.fields import NodeFields, PathFields, ShareFields, SpaceFields
from polaris.drive.models import FOLDER, Node, Share, Space
from polaris.errors import Conflict

RESOURCE_KIND = "node"


class LocatedView:
    """A node in its context, and what an answer and a decision derive from its node, space,
    ancestors and shares: one code for :class:`Located` (ORM objects) and ``_plain.Seen`` (plain
    rows of the read hot path), so that the two cannot answer differently. ``ancestors`` run from
    the space's root to the parent.

    A base for frozen dataclasses that declare these four fields (``cached_property`` stores in
    their ``__dict__``). It is not generic over the node's type: mypy checks a type argument's
    bound before it knows what an ORM column gives (``Mapped[int]`` is no ``int`` yet), finds
    ``Node`` no ``NodeFields`` and keeps that answer for the whole run."""

    node: NodeFields
    space: SpaceFields
    ancestors: tuple[PathFields, ...]
    shares: tuple[ShareFields, ...]

    # Computed once per object: the nodes of the path never change for one (their attributes
    # may, so what is derived from them, such as ``classification``, is computed each time).
    @cached_property
    def chain(self) -> tuple[PathFields, ...]:
        """The path's nodes, the space's root first and the node itself last."""
        return (*self.ancestors, self.node)

    @property
    def in_trash(self) -> bool:
        return any(node.trashed_at is not None for node in self.chain)

    @property
    def classification(self) -> Classification:
        """The effective level: the highest along the path (a secret folder's files are secret)."""
        level = self.node.classification
        for node in self.ancestors:  # a loop: a folder page asks this of every child
            if node.classification > level:
                level = node.classification
        return Classification(level)

    @property
    def display_path(self) -> str:
        names = [node.name for node in self.chain[1:]]
        return "/" + "/".join(names)

    @property
    def is_root(self) -> bool:
        return self.node.parent_id is None

    @property
    def is_folder(self) -> bool:
        return self.node.kind == FOLDER

    def resource(self) -> Resource:
        return resource_for(self.space, self.node, self.classification, self.shares)


@dataclass(frozen=True)
class Located(LocatedView):
    """A node in its context, as ORM objects (what the services that write work on)."""

    node: Node
    space: Space
    ancestors: tuple[Node, ...]
    shares: tuple[Share, ...]

    @cached_property
    def chain(self) -> tuple[Node, ...]:
        """:attr:`LocatedView.chain`, typed as the ``Node`` objects it holds."""
        return (*self.ancestors, self.node)


def resource_for(
    space: SpaceFields,
    node: NodeFields,
    classification: Classification,
    shares: tuple[ShareFields, ...],
) -> Resource:
    return resource_of(space, node.id, classification, shares)


def resource_of(
    space: SpaceFields,
    node_id: int,
    classification: Classification,
    shares: tuple[ShareFields, ...],
) -> Resource:
    return Resource(
        kind=RESOURCE_KIND,
        id=str(node_id),
        unit_id=space.unit_id,
        classification=classification,
        owner_id=space.owner_id,
        grants=tuple(grant_of(share) for share in shares),
    )


def grant_of(share: ShareFields) -> Grant:
    return Grant(
        subject_type=share.subject_type,
        subject_id=share.subject_id,
        permission=Permission(share.permission),
        include_subunits=share.include_subunits,
        expires_at=share.expires_at,
    )


#: An id no row has (ids start at 1). A lookup that finds nothing goes on with it, so that a
#: missing id costs the same queries as a hidden one (see ``require_node``).
NO_ID = 0


def locate(session: Session, node_id: int) -> Located | None:
    """The node with its space, ancestors and live shares; None if there is none.

    Always two queries (the node with its space; the nodes of its path with their shares), found
    or not, root or not: the time of a miss must not tell it from a node the caller may not see.
    """
    node, space = repo.node_and_space(session, node_id)
    ids = repo.path_ids(node.path) if node is not None else [NO_ID]
    by_id, shares = repo.path_nodes_and_shares(session, ids, now=utcnow())
    if node is None or space is None:
        return None
    ancestors = tuple(by_id[i] for i in ids[:-1] if i in by_id)
    if len(ancestors) != len(ids) - 1:
        return None
    return Located(node=node, space=space, ancestors=ancestors, shares=tuple(shares))


def locate_many(session: Session, node_ids: Sequence[int]) -> dict[int, Located]:
    """:func:`locate` for a page of nodes in a few queries (not a few each); unknown ids are left
    out."""
    nodes: dict[int, Node] = {}
    for chunk in chunks(sorted(set(node_ids))):
        nodes.update(repo.nodes_by_id(session, chunk))
    paths = {node.id: repo.path_ids(node.path) for node in nodes.values()}
    on_paths = sorted({i for ids in paths.values() for i in ids})
    by_id = dict(nodes)
    for chunk in chunks([i for i in on_paths if i not in by_id]):
        by_id.update(repo.nodes_by_id(session, chunk))
    spaces = repo.spaces_by_id(session, (node.space_id for node in nodes.values()))
    shares = shares_by_node(session, on_paths)
    found: dict[int, Located] = {}
    for node_id, node in nodes.items():
        ids = paths[node_id]
        ancestors = tuple(by_id[i] for i in ids[:-1] if i in by_id)
        space = spaces.get(node.space_id)
        if space is None or len(ancestors) != len(ids) - 1:
            continue
        on_path = sorted((s for i in ids for s in shares.get(i, ())), key=lambda s: s.id)
        found[node_id] = Located(node=node, space=space, ancestors=ancestors, shares=tuple(on_path))
    return found


def shares_by_node(session: Session, node_ids: Sequence[int]) -> dict[int, list[Share]]:
    """Live shares on these nodes, by node."""
    found: dict[int, list[Share]] = {}
    now = utcnow()
    for chunk in chunks(node_ids):
        for share in shares_repo.shares_on(session, chunk, now=now):
            found.setdefault(share.node_id, []).append(share)
    return found


def chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """``ids`` in pieces small enough for one ``IN (...)`` on every database."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def batches(ids: Iterable[int]) -> list[Sequence[int]]:
    """``ids`` (sorted, once each) in :func:`chunks`, or one piece of :data:`NO_ID` when there
    are none: each query then runs whether or not anything is asked, as in :func:`locate`."""
    return chunks(sorted(set(ids))) or [[NO_ID]]


def require_node(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    action: Action,
    allow_trashed: bool = False,
) -> Located:
    """The node if the actor may do ``action`` to it; NotFound or PermissionDenied (audited)."""
    return require_located(
        locate(session, node_id),
        session=session,
        actor=actor,
        context=context,
        node_id=node_id,
        action=action,
        allow_trashed=allow_trashed,
    )


#: A located node however it was read: the ORM's :class:`Located`, ``_plain.Seen``'s rows.
View = TypeVar("View", bound=LocatedView)


def require_located(
    located: View | None,
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    action: Action,
    allow_trashed: bool = False,
) -> View:
    """``located`` (the node ``node_id``, None when there is none) if the actor may do
    ``action`` to it; NotFound or PermissionDenied (audited). The one decision for both ways of
    reading a node, so that they cannot refuse differently.

    A missing node (or one in the trash, unless ``allow_trashed``) is an audited denial too, with
    the same queries, record and answer as a node the actor may not see.
    """
    if located is None or (located.in_trash and not allow_trashed):
        access.deny_missing(
            session=session,
            actor=actor,
            kind=RESOURCE_KIND,
            object_id=node_id,
            action=action,
            context=context,
        )
    access.require(
        session=session, actor=actor, action=action, resource=located.resource(), context=context
    )
    return located


def require_folder(
    *, session: Session, actor: Actor, context: AuditContext, node_id: int, action: Action
) -> Located:
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=action
    )
    if not located.is_folder:
        raise Conflict("this node is a file, not a folder", code="not_a_folder")
    return located


def allowed_actions(actor: Actor, located: LocatedView) -> list[str]:
    resource = located.resource()
    return [action.value for action in Action if access.can(actor, action, resource)]


class Permissions:
    """:func:`allowed_actions` for the many nodes of one answer (a folder page, the trash, a
    list of shares), decided once per distinct space, effective level and set of shares: what
    ``access`` decides from (the node's own id plays no part), and what the children of one
    folder nearly always have in common. One per request: a share's expiry makes a decision
    depend on the time."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self._decided: dict[tuple[int, int, tuple[int, ...]], list[str]] = {}

    def of(self, located: LocatedView, level: int | None = None) -> list[str]:
        """``level``: ``located.classification`` when the caller has it already."""
        key = (
            located.space.id,
            int(located.classification) if level is None else level,
            tuple(share.id for share in located.shares),
        )
        found = self._decided.get(key)
        if found is None:
            found = self._decided[key] = allowed_actions(self.actor, located)
        return list(found)

    def of_child(
        self, parent: Located, node_id: int, level: int, shares: tuple[Share, ...]
    ) -> list[str]:
        """:meth:`of` for a child of ``parent`` known only by a row (WebDAV's listing reads no
        ``Node`` objects): its id, its effective ``level`` (the higher of the parent's and its
        own) and ``shares``, the parent's followed by the child's own. The same key, so the
        same decision as :meth:`of` would take for the ``Located`` child."""
        key = (parent.space.id, level, tuple(share.id for share in shares))
        found = self._decided.get(key)
        if found is None:
            resource = resource_of(parent.space, node_id, Classification(level), shares)
            found = self._decided[key] = [
                action.value for action in Action if access.can(self.actor, action, resource)
            ]
        return list(found)


def children_of(parent: Located, nodes: list[Node], shares: list[Share]) -> list[Located]:
    """Located children of ``parent`` without a query each (``shares``: those on the children)."""
    by_node: dict[int, list[Share]] = {}
    for share in shares:
        by_node.setdefault(share.node_id, []).append(share)
    return [
        Located(
            node=node,
            space=parent.space,
            ancestors=parent.chain,
            shares=parent.shares + tuple(by_node.get(node.id, ())),
        )
        for node in nodes
    ]
