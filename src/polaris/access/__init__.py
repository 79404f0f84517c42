"""May this actor do this action to this object? The one policy every service asks (DESIGN §7)."""

from __future__ import annotations

from polaris.access.policy import (
    Action,
    Actor,
    ChatAction,
    ChatRoomFacts,
    Classification,
    Decision,
    Grant,
    GroupReach,
    Need,
    Permission,
    Resource,
    decide,
    decide_admin,
    decide_chat,
    decide_credentials,
    decide_group,
    decide_unfreeze,
    grant_names,
    group_reach,
    route_need,
)

__all__ = [
    "Action",
    "Actor",
    "ChatAction",
    "ChatRoomFacts",
    "Classification",
    "Decision",
    "Grant",
    "GroupReach",
    "Need",
    "Permission",
    "Resource",
    "decide",
    "decide_admin",
    "decide_chat",
    "decide_credentials",
    "decide_group",
    "decide_unfreeze",
    "grant_names",
    "group_reach",
    "route_need",
]
