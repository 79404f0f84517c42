"""May this actor do this action to this object? The one policy every service asks (DESIGN §7)."""

from __future__ import annotations

from polaris.access.policy import (
    Action,
    Actor,
    Classification,
    Decision,
    Grant,
    Permission,
    Resource,
    decide,
)

__all__ = [
    "Action",
    "Actor",
    "Classification",
    "Decision",
    "Grant",
    "Permission",
    "Resource",
    "decide",
]
