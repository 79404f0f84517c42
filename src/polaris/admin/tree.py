"""The unit hierarchy as a tree to show: each unit with its children and its number of users."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from polaris.identity.models import Unit


@dataclass
class UnitNode:
    id: int
    code: str
    name: str
    name_hi: str | None
    kind: str
    users: int
    children: list[UnitNode] = field(default_factory=list)
    #: Users of this unit and of every unit below it.
    users_below: int = 0


def build_tree(units: Iterable[Unit], user_counts: Mapping[int, int]) -> list[UnitNode]:
    """The roots (units without a parent, or whose parent is missing) with their subtrees.

    Children keep the order of ``units``. Walks iteratively: a deep tree cannot hit the
    recursion limit.
    """
    nodes: dict[int, UnitNode] = {}
    parents: dict[int, int | None] = {}
    for unit in units:
        nodes[unit.id] = UnitNode(
            id=unit.id,
            code=unit.code,
            name=unit.name,
            name_hi=unit.name_hi,
            kind=unit.kind,
            users=user_counts.get(unit.id, 0),
        )
        parents[unit.id] = unit.parent_id
    roots: list[UnitNode] = []
    for unit_id, node in nodes.items():
        parent_id = parents[unit_id]
        if parent_id is not None and parent_id in nodes:
            nodes[parent_id].children.append(node)
        else:
            roots.append(node)
    _sum_users(roots)
    return roots


def _sum_users(roots: list[UnitNode]) -> None:
    """Fill ``users_below``, children before parents."""
    order: list[UnitNode] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):
        node.users_below = node.users + sum(child.users_below for child in node.children)
