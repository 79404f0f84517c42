"""A page's breadcrumbs: the folders from where the caller's access begins down to the node.

The owner's path starts at the space's root ("My files" in a personal space). Someone who reads a
folder through a share sees neither the space's root nor the folders above the share: each was a
link to "Not found". Their path starts at the highest folder they may read (the shared one, or a
folder above it shared too), and the page then says so (``shared``): it leads back to "Shared with
me". Each folder of the path is decided by ``access`` at once (``can_each``), with the shares and
level it has on its own path, which ``Located`` already holds: no query per crumb.
"""

from __future__ import annotations

from dataclasses import dataclass

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification
from polaris.drive._locate import Located, resource_for


@dataclass(frozen=True)
class Crumbs:
    """``items``: (node id, name) from the first readable folder; the name is None for a
    personal space's root, which its owner sees as "My files". ``shared``: the path starts below
    what the caller may read, at a share."""

    items: list[tuple[int, str | None]]
    shared: bool


def crumbs_of(actor: Actor, located: Located, *, include_node: bool = True) -> Crumbs:
    chain = located.chain if include_node else located.ancestors
    if not chain:
        return Crumbs([], False)
    resources = []
    level = Classification.UNCLASSIFIED
    on_path: set[int] = set()
    for node in chain:
        level = max(level, Classification(node.classification))
        on_path.add(node.id)
        shares = tuple(share for share in located.shares if share.node_id in on_path)
        resources.append(resource_for(located.space, node, level, shares))
    readable = access.can_each(actor, Action.READ, resources)
    start = readable.index(True) if True in readable else len(chain)
    personal = located.space.kind == "user"
    items = [
        (node.id, None if personal and node.parent_id is None else node.name)
        for node in chain[start:]
    ]
    return Crumbs(items, shared=start > 0)
