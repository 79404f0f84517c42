"""The drive's read hot path in SQLAlchemy Core: a node and the caller's spaces as plain rows.

``_locate.locate`` loads a node, its space, its ancestors and their shares as ORM objects, and
``spaces.existing_visible_spaces`` the spaces with their roots: identity-mapped instances whose
loading was about a fifth of a metadata GET's CPU. The node GET and the spaces listing only read
and answer, so here the same two statements (and the one of the spaces) are prebuilt Core
statements (``drive.plain_repo``) whose rows are used as they come (``drive.fields``
protocols), in the request's read-only transaction. What is read, and what ``access`` decides
from it, are those of ``_locate.require_node`` and ``spaces.existing_visible_spaces``:

- :func:`locate` runs its two statements whether the node exists or not, and
  :func:`require_seen` refuses a missing node (or one in the trash) and a hidden one alike,
  through ``_locate.require_located``, the decision ``require_node`` makes too;
- the writers keep the ORM; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Resource
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import plain_repo, repo
from polaris.drive._locate import NO_ID, RESOURCE_KIND, LocatedView, require_located
from polaris.drive.fields import NodeFields, PathFields, ShareFields, SpaceFields


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
    found = plain_repo.node_and_space(session, node_id)
    ids = repo.path_ids(found[0].path) if found is not None else [NO_ID]
    rows = plain_repo.path_and_shares(session, ids, now=utcnow())
    if found is None:
        return None
    by_id: dict[int, PathFields] = {}
    shares: dict[int, ShareFields] = {}
    for path_node, share in rows:
        by_id[path_node.id] = path_node
        if share is not None:
            shares[share.id] = share
    ancestors = tuple(by_id[i] for i in ids[:-1] if i in by_id)
    if len(ancestors) != len(ids) - 1:
        return None
    node, space = found
    return Seen(
        node=node,
        space=space,
        ancestors=ancestors,
        shares=tuple(shares[key] for key in sorted(shares)),
    )


def require_seen(
    *, session: Session, actor: Actor, context: AuditContext, node_id: int, action: Action
) -> Seen:
    """``_locate.require_node`` (not in the trash) on plain rows: the node if the actor may do
    ``action`` to it; a missing node is refused as a hidden one is (audited, the same answer)."""
    return require_located(
        locate(session, node_id),
        session=session,
        actor=actor,
        context=context,
        node_id=node_id,
        action=action,
    )


def visible_spaces(session: Session, actor: Actor) -> list[SpaceFields] | None:
    """``spaces.existing_visible_spaces`` in Core: the caller's own space, their unit's and those
    within their reach that exist and whose root they may read, own space first; None when one
    of them is still to be made (the caller then makes it in a write transaction)."""
    if actor.disabled:
        return []
    unit_ids = [actor.unit_id]
    if Action.READ in actor.subtree_actions:
        unit_ids += sorted(actor.descendant_unit_ids)
    found = plain_repo.spaces_with_root_levels(session, owner_id=actor.user_id, unit_ids=unit_ids)
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
