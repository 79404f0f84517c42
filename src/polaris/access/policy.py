"""The access rules, as a pure function over plain values (no database, no I/O).

Rules, checked in this order; the first that decides wins:

1. A disabled actor may do nothing.
2. An API token may do only what its scopes name.
3. Clearance is always enforced: below the object's classification, nothing — not ownership, not
   a share, not a supervisory role — grants access.
4. The owner of an object (a personal space) may do everything to it.
5. A role grants its ``unit_actions`` on objects of the actor's own unit and its
   ``subtree_actions`` on objects of units below it. Reach goes down the tree, never up or sideways.
6. An unexpired share grants its permission: to a user, to a unit (optionally with the units below
   it) or to a group the actor belongs to.
7. Anything else is denied.

Callers turn a denial into ``NotFound`` when the actor may not even read the object (STYLE rule 3:
an object you may not see does not exist for you) and into ``PermissionDenied`` otherwise.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    SHARE = "share"
    CLASSIFY = "classify"


class Permission(enum.StrEnum):
    """What a share grants. Each level includes the ones before it."""

    READ = "read"
    EDIT = "edit"
    MANAGE = "manage"


PERMISSION_ACTIONS: dict[Permission, frozenset[Action]] = {
    Permission.READ: frozenset({Action.READ}),
    Permission.EDIT: frozenset({Action.READ, Action.WRITE}),
    Permission.MANAGE: frozenset(Action),
}


class Classification(enum.IntEnum):
    UNCLASSIFIED = 0
    RESTRICTED = 1
    CONFIDENTIAL = 2
    SECRET = 3


@dataclass(frozen=True)
class Actor:
    """Who is acting, with everything the rules need, resolved once per request by ``identity``."""

    user_id: int
    username: str
    unit_id: int
    role_code: str
    clearance: Classification
    unit_actions: frozenset[Action] = frozenset()
    subtree_actions: frozenset[Action] = frozenset()
    is_admin: bool = False
    disabled: bool = False
    # Units strictly above and strictly below the actor's unit.
    ancestor_unit_ids: frozenset[int] = frozenset()
    descendant_unit_ids: frozenset[int] = frozenset()
    group_ids: frozenset[int] = frozenset()
    # None for a browser session (every action); a token's scopes otherwise.
    token_scopes: frozenset[str] | None = None
    auth_factors: str = "password"
    session_hash: str | None = None


@dataclass(frozen=True)
class Grant:
    """An explicit share of one object."""

    subject_type: str  # "user" | "unit" | "group"
    subject_id: int
    permission: Permission
    include_subunits: bool = False
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Resource:
    """What the rules need to know of an object: where it lives, whose it is, how secret, shares."""

    kind: str
    id: str
    unit_id: int | None
    classification: Classification = Classification.UNCLASSIFIED
    owner_id: int | None = None
    grants: tuple[Grant, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def decide(actor: Actor, action: Action, resource: Resource, *, now: dt.datetime) -> Decision:
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if actor.token_scopes is not None and not _scope_allows(actor.token_scopes, action):
        return Decision(False, "token_scope")
    if actor.clearance < resource.classification:
        return Decision(False, "clearance")
    if resource.owner_id is not None and resource.owner_id == actor.user_id:
        return Decision(True, "owner")
    if resource.unit_id is not None:
        if resource.unit_id == actor.unit_id and action in actor.unit_actions:
            return Decision(True, "unit_role")
        if resource.unit_id in actor.descendant_unit_ids and action in actor.subtree_actions:
            return Decision(True, "supervisory_reach")
    for grant in resource.grants:
        if _grant_applies(grant, actor, now) and action in PERMISSION_ACTIONS[grant.permission]:
            return Decision(True, f"share_{grant.subject_type}")
    return Decision(False, "no_reach")


def _scope_allows(scopes: frozenset[str], action: Action) -> bool:
    if "all" in scopes:
        return True
    if action is Action.READ:
        return "read" in scopes or "write" in scopes
    return "write" in scopes


def _grant_applies(grant: Grant, actor: Actor, now: dt.datetime) -> bool:
    if grant.expires_at is not None and grant.expires_at <= now:
        return False
    if grant.subject_type == "user":
        return grant.subject_id == actor.user_id
    if grant.subject_type == "unit":
        if grant.subject_id == actor.unit_id:
            return True
        return grant.include_subunits and grant.subject_id in actor.ancestor_unit_ids
    if grant.subject_type == "group":
        return grant.subject_id in actor.group_ids
    return False
