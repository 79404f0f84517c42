"""Finding a node by the names on its path, as WebDAV addresses it (``polaris.dav``).

The drive addresses nodes by id; a WebDAV client by the names from a space's root down. A name
that the rules refuse (``drive.names``) or that no live node has answers None; a node found is
authorised through ``access`` like any other (``require_node``): one the caller may not read
(above their clearance, say) is refused there with ``NotFound``, audited as a denial, and the
caller answers it as it answers None.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from polaris.access.policy import Action, Actor
from polaris.audit.context import AuditContext
from polaris.drive import plain_repo
from polaris.drive._locate import Located, locate_many, require_node
from polaris.drive._locate import Permissions as Permissions  # for WebDAV's oc:permissions
from polaris.drive.fields import SpaceFields
from polaris.drive.names import normalise_name
from polaris.errors import ValidationFailed

__all__ = ["Located", "find_by_names", "require", "space_roots"]


def find_by_names(
    *, session: Session, actor: Actor, context: AuditContext, root_id: int, names: Sequence[str]
) -> Located | None:
    """The live node at ``names`` below the folder ``root_id`` (a space's root, which the caller
    was shown), readable by the actor; None when there is none the actor may see.

    A node found but refused by ``access`` raises ``NotFound``, audited after the caller's
    transaction is rolled back: the caller answers it as it answers None."""
    try:
        wanted = [normalise_name(name) for name in names]
    except ValidationFailed:
        return None
    # The whole path in one statement, the same whichever of its names exist.
    chain = plain_repo.live_chain(session, root_id, wanted)
    node_id = root_id
    for found_id, level in chain:
        node_id = found_id
        if level > actor.clearance:
            break  # ``access`` refuses it below (audited), as missing to the caller
    else:
        if len(chain) < len(wanted):
            return None
    return require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.READ
    )


def require(
    *, session: Session, actor: Actor, context: AuditContext, node_id: int, action: Action
) -> Located:
    """The node, if the actor may do ``action`` to it (``NotFound`` or ``PermissionDenied``,
    audited, otherwise): for what WebDAV keeps beside a node (its dead properties)."""
    return require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=action
    )


def space_roots(*, session: Session, spaces: Sequence[SpaceFields]) -> dict[int, Located]:
    """The root folders of spaces that ``spaces.visible_spaces`` gave the caller (it decided
    through ``access``), by space id, in a few queries however many."""
    found = locate_many(session, [space.root_id for space in spaces if space.root_id is not None])
    return {located.space.id: located for located in found.values()}
