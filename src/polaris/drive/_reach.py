"""What a searcher reaches, decided for many nodes at once over plain rows.

Every search asks three things of the drive: the spaces the caller reads wholly and the shared
nodes that reach them (the visibility the engine filters by), and which of the engine's matches,
up to 1,100, the caller may read *now* (the index lags the database). The rules are those of
``spaces.visible_spaces`` and ``locate`` with ``Located.resource``; the decisions are
``polaris.access``'s (``can_each``). What differs is the cost: one statement a table whatever the
number of nodes, spaces or shares (a lookup per share, and ORM objects for HQ's 1,050 spaces and
roots, made a search's cost grow with them), counted in ``tests/web/test_search_statements.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Resource
from polaris.clock import utcnow
from polaris.drive import reach_repo, repo, shares_repo, spaces
from polaris.drive._locate import RESOURCE_KIND, Located, grant_of, locate_many
from polaris.drive.models import Node, Share, Space


def readable_space_ids(
    session: Session, actor: Actor, defaults: spaces.SpaceDefaults
) -> frozenset[int]:
    """The ids of ``spaces.visible_spaces``: one statement when every space exists (a space
    never used before is made by ``visible_spaces``, as for the sidebar)."""
    if actor.disabled:
        return frozenset()
    unit_ids = {actor.unit_id}
    if Action.READ in actor.subtree_actions:
        unit_ids |= actor.descendant_unit_ids
    rows = reach_repo.reached_space_roots(
        session, owner_id=actor.user_id, unit_ids=sorted(unit_ids)
    )
    has_own = any(row.kind == "user" for row in rows)
    if not has_own or {row.unit_id for row in rows if row.kind == "unit"} != unit_ids:
        return frozenset(
            space.id
            for space in spaces.visible_spaces(session=session, actor=actor, defaults=defaults)
        )
    roots = [
        Resource(
            kind=RESOURCE_KIND,
            id=str(row.root_id),
            unit_id=row.unit_id,
            classification=Classification(row.root_classification),
            owner_id=row.owner_id,
        )
        for row in rows
    ]
    allowed = access.can_each(actor, Action.READ, roots)
    return frozenset(row.id for row, ok in zip(rows, allowed, strict=True) if ok)


def shared_root_ids(session: Session, actor: Actor) -> frozenset[int]:
    """The nodes of the live shares that reach the actor, in one statement.

    Not checked further here, where ``shares.shared_with_me`` also asks that the actor may read
    the node now: this is only what the engine filters by, and every match it hands back is
    checked (:class:`MatchCheck`). A live share reaching the actor grants reading, so what such a
    check drops is a node above the actor's clearance, which the engine filters out by level
    itself, or one in the trash, whose documents leave the index with the trash's index job.
    """
    reaching = shares_repo.shares_reaching(
        session,
        user_id=actor.user_id,
        unit_id=actor.unit_id,
        ancestor_unit_ids=actor.ancestor_unit_ids,
        group_ids=actor.group_ids,
        now=utcnow(),
    )
    return frozenset(share.node_id for share in reaching)


class MatchCheck:
    """Which nodes ``actor`` may read now and are not in the trash, and then the page of them
    located for showing, from what the check read.

    :meth:`readable` reads the nodes with their spaces, the levels and trash marks of the folders
    above them, and the live shares on all those paths: three statements (none without ids). The
    page's :meth:`located` then reads its nodes, their ancestors and spaces as objects in one
    more, with the shares already in hand.
    """

    def __init__(self, session: Session, actor: Actor) -> None:
        self._session = session
        self._actor = actor
        self._paths: dict[int, list[int]] = {}
        self._shares: dict[int, list[Share]] = {}

    def readable(self, node_ids: Sequence[int]) -> set[int]:
        session, now = self._session, utcnow()
        facts = (
            {row.id: row for row in reach_repo.node_facts(session, node_ids)} if node_ids else {}
        )
        paths = {node_id: repo.path_ids(row.path) for node_id, row in facts.items()}
        levels = {node_id: (row.classification, row.trashed) for node_id, row in facts.items()}
        on_paths = {node_id for ids in paths.values() for node_id in ids}
        above = on_paths - levels.keys()
        for row in reach_repo.node_levels(session, above) if above else ():
            levels[row.id] = (row.classification, row.trashed)
        for share in reach_repo.live_shares(session, on_paths, now=now) if on_paths else ():
            self._shares.setdefault(share.node_id, []).append(share)
        # A thousand matches have a few dozen shapes (space, level, shares on the path): one
        # resource, and one decision, for each.
        shapes: dict[tuple[object, ...], Resource] = {}
        shape_of: dict[int, tuple[object, ...]] = {}
        for node_id, ids in paths.items():
            level = 0
            for i in ids:
                link = levels.get(i)
                if link is None or link[1]:
                    break  # an ancestor gone, or something on the path in the trash
                level = max(level, link[0])
            else:
                row = facts[node_id]
                shared = self._on_path(ids)
                key = (row.unit_id, row.owner_id, level, *(share.id for share in shared))
                if key not in shapes:
                    shapes[key] = Resource(
                        kind=RESOURCE_KIND,
                        id=str(node_id),
                        unit_id=row.unit_id,
                        classification=Classification(level),
                        owner_id=row.owner_id,
                        grants=tuple(grant_of(share) for share in shared),
                    )
                shape_of[node_id] = key
                self._paths[node_id] = ids
        allowed = dict(
            zip(shapes, access.can_each(self._actor, Action.READ, shapes.values()), strict=True)
        )
        return {node_id for node_id, key in shape_of.items() if allowed[key]}

    def _on_path(self, ids: Iterable[int]) -> list[Share]:
        if not self._shares:
            return []  # the common case: no share on any path checked
        found = [share for node_id in ids for share in self._shares.get(node_id, ())]
        return sorted(found, key=lambda share: share.id) if len(found) > 1 else found

    def located(self, node_ids: Sequence[int]) -> dict[int, Located]:
        """These nodes (found readable by :meth:`readable`) with their spaces, ancestors and
        shares; a node not checked here is located afresh (``locate_many``)."""
        checked = [node_id for node_id in node_ids if node_id in self._paths]
        found = locate_many(self._session, [i for i in node_ids if i not in self._paths])
        wanted = {i for node_id in checked for i in self._paths[node_id]}
        rows: dict[int, tuple[Node, Space]] = {}
        for node, space in reach_repo.nodes_with_spaces(self._session, wanted) if wanted else ():
            rows[node.id] = (node, space)
        for node_id in checked:
            ids = self._paths[node_id]
            if not all(i in rows for i in ids):
                continue  # gone since the check
            node, space = rows[node_id]
            found[node_id] = Located(
                node=node,
                space=space,
                ancestors=tuple(rows[i][0] for i in ids[:-1]),
                shares=tuple(self._on_path(ids)),
            )
        return found
