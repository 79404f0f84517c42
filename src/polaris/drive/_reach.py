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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Resource
from polaris.clock import utcnow
from polaris.drive import reach_repo, shares_repo, spaces
from polaris.drive._locate import RESOURCE_KIND, Located, grant_of, locate_many
from polaris.drive.models import Node, Share, Space

#: ``Classification(n)`` costs an enum lookup; searches make a thousand of them.
_LEVEL = {int(level): level for level in Classification}


@dataclass(frozen=True)
class ReachedSpaces:
    """The spaces a searcher reads wholly, and the levels of their roots as read to decide so.

    ``root_levels`` (root node id → classification) lets :class:`MatchCheck` skip reading those
    roots again: HQ's matches sit under ~800 of its 1,050 roots, the bulk of the folders above
    them. Empty when the spaces were found another way (see :func:`reached_spaces`).
    """

    space_ids: frozenset[int]
    root_levels: Mapping[int, int]


def reached_spaces(session: Session, actor: Actor, defaults: spaces.SpaceDefaults) -> ReachedSpaces:
    """The spaces of ``spaces.visible_spaces``: one statement when every space exists (a space
    never used before is made by ``visible_spaces``, as for the sidebar)."""
    if actor.disabled:
        return ReachedSpaces(frozenset(), {})
    unit_ids = {actor.unit_id}
    if Action.READ in actor.subtree_actions:
        unit_ids |= actor.descendant_unit_ids
    rows = reach_repo.reached_space_roots(
        session, owner_id=actor.user_id, unit_ids=sorted(unit_ids)
    )
    has_own = any(row.kind == "user" for row in rows)
    if not has_own or {row.unit_id for row in rows if row.kind == "unit"} != unit_ids:
        made = spaces.visible_spaces(session=session, actor=actor, defaults=defaults)
        return ReachedSpaces(frozenset(space.id for space in made), {})
    roots = [
        Resource(
            kind=RESOURCE_KIND,
            id=str(row.root_id),
            unit_id=row.unit_id,
            classification=_LEVEL[row.root_classification],
            owner_id=row.owner_id,
        )
        for row in rows
    ]
    allowed = access.can_each(actor, Action.READ, roots)
    return ReachedSpaces(
        frozenset(row.id for row, ok in zip(rows, allowed, strict=True) if ok),
        # Every root read, readable or not: a level is a fact, not a decision.
        {row.root_id: row.root_classification for row in rows},
    )


def readable_space_ids(
    session: Session, actor: Actor, defaults: spaces.SpaceDefaults
) -> frozenset[int]:
    """The ids of ``spaces.visible_spaces`` (:func:`reached_spaces` without the roots' levels)."""
    return reached_spaces(session, actor, defaults).space_ids


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
    above them, and the live shares on all those paths: three statements (none without ids).
    ``root_levels`` are roots' levels read a moment before in the same transaction
    (:func:`reached_spaces`): those roots are not read again (a root is never in the trash:
    ``trash`` refuses it). The page's :meth:`located` then reads its nodes, their ancestors and
    spaces as objects in one more, with the shares already in hand.
    """

    def __init__(
        self, session: Session, actor: Actor, root_levels: Mapping[int, int] | None = None
    ) -> None:
        self._session = session
        self._actor = actor
        self._root_levels = root_levels or {}
        #: Checked node → the ids of the folders above it, root first.
        self._above: dict[int, tuple[int, ...]] = {}
        self._shares: dict[int, list[Share]] = {}

    def readable(self, node_ids: Sequence[int]) -> set[int]:
        session = self._session
        # Plain tuples: a named attribute of a row costs a lookup, and there are 1,100 rows.
        facts = [tuple(row) for row in reach_repo.node_facts(session, node_ids)] if node_ids else []
        # Matches come in folders: each folder's path is parsed, walked and decided once.
        folders: dict[str, tuple[int, ...]] = {}
        levels: dict[int, tuple[int, int]] = {i: (n, 0) for i, n in self._root_levels.items()}
        for node_id, path, level, trashed, _unit, _owner in facts:
            levels[node_id] = (level, trashed)
            folder = path[: path.rindex("/", 0, len(path) - 1) + 1]
            if folder not in folders:
                folders[folder] = tuple(int(i) for i in folder.strip("/").split("/") if i)
        on_paths = {i for above in folders.values() for i in above}
        unread = on_paths - levels.keys()
        for node_id, level, trashed in reach_repo.node_levels(session, unread) if unread else ():
            levels[node_id] = (level, trashed)
        on_paths.update(fact[0] for fact in facts)
        for share in reach_repo.live_shares(session, on_paths, now=utcnow()) if on_paths else ():
            self._shares.setdefault(share.node_id, []).append(share)
        # Each folder: its level and the shares on its path, or None when a folder above is gone
        # or in the trash.
        walked: dict[str, tuple[int, list[Share], tuple[int, ...]] | None] = {}
        for folder, above in folders.items():
            top = 0
            for i in above:
                link = levels.get(i)
                if link is None or link[1]:
                    walked[folder] = None
                    break
                if link[0] > top:
                    top = link[0]
            else:
                walked[folder] = (top, self._on_path(above), above)
        # A thousand matches have a few dozen shapes (space, level, shares on the path): one
        # resource, and one decision, for each.
        shapes: dict[tuple[object, ...], Resource] = {}
        shape_of: dict[int, tuple[object, ...]] = {}
        shares = self._shares
        for node_id, path, level, trashed, unit_id, owner_id in facts:
            state = walked[path[: path.rindex("/", 0, len(path) - 1) + 1]]
            if state is None or trashed:
                continue
            top, shared, above = state
            if level < top:
                level = top
            own = shares.get(node_id) if shares else None
            if own:
                shared = sorted([*shared, *own], key=lambda share: share.id)
            key = (unit_id, owner_id, level, *(share.id for share in shared))
            if key not in shapes:
                shapes[key] = Resource(
                    kind=RESOURCE_KIND,
                    id=str(node_id),
                    unit_id=unit_id,
                    classification=_LEVEL[level],
                    owner_id=owner_id,
                    grants=tuple(grant_of(share) for share in shared),
                )
            shape_of[node_id] = key
            self._above[node_id] = above
        allowed = dict(
            zip(shapes, access.can_each(self._actor, Action.READ, shapes.values()), strict=True)
        )
        return {node_id for node_id, key in shape_of.items() if allowed[key]}

    def _on_path(self, ids: Iterable[int]) -> list[Share]:
        shares = self._shares
        if not shares or shares.keys().isdisjoint(ids):
            return []  # the common case: no share on the path
        found = [share for node_id in ids for share in shares.get(node_id, ())]
        return sorted(found, key=lambda share: share.id) if len(found) > 1 else found

    def located(self, node_ids: Sequence[int]) -> dict[int, Located]:
        """These nodes (found readable by :meth:`readable`) with their spaces, ancestors and
        shares; a node not checked here is located afresh (``locate_many``)."""
        paths = {
            node_id: [*self._above[node_id], node_id]
            for node_id in node_ids
            if node_id in self._above
        }
        checked = list(paths)
        found = locate_many(self._session, [i for i in node_ids if i not in paths])
        wanted = {i for ids in paths.values() for i in ids}
        rows: dict[int, tuple[Node, Space]] = {}
        for node, space in reach_repo.nodes_with_spaces(self._session, wanted) if wanted else ():
            rows[node.id] = (node, space)
        for node_id in checked:
            ids = paths[node_id]
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
