"""The access rules, as a pure function over plain values (no database, no I/O).

Rules, checked in this order; the first that decides wins:

1. A disabled actor may do nothing; an actor whose writes are frozen (the ransomware guard,
   ``polaris.resilience``) may only read.
2. An API token may do only what its scopes name.
3. Clearance is always enforced: below the object's classification, nothing — not ownership, not
   a share, not a supervisory role — grants access.
4. The owner of an object (a personal space) may do everything to it but declassify.
5. A role grants its ``unit_actions`` on objects of the actor's own unit and its
   ``subtree_actions`` on objects of units below it. Reach goes down the tree, never up or sideways.
6. An unexpired share grants its permission: to a user, to a unit (optionally with the units below
   it) or to a group the actor belongs to.
7. Anything else is denied. Lowering an object's own classification (``DECLASSIFY``) is granted
   only by rule 5 (heads of units: station head and above, over what their role reaches) and to
   administrators over what they may read: as in government records practice, only the
   originating authority or a higher one downgrades. Owners and shares may only raise
   (``CLASSIFY``).
8. Content under malware scan (a resource with a ``scan_state``), for reading and sharing, after
   the rules above allowed it: infected content is quarantined (no one, not even its uploader);
   content whose scan is pending or failed (held) only its uploader. Applied last, so that only
   someone who could otherwise read the file learns why it is refused.

Callers turn a denial into ``NotFound`` when the actor may not even read the object (STYLE rule 3:
an object you may not see does not exist for you) and into ``PermissionDenied`` otherwise.

Before any object is looked at, every request passes ``decide_credentials`` (what the credentials
it came with may do at all: the token's scope, a due password change) and every administration
request ``decide_admin``; ``decide_group`` says which groups of users an actor may see.
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
    CLASSIFY = "classify"  # set a node's own level; only upward without DECLASSIFY
    DECLASSIFY = "declassify"  # lower a node's own level (rule 7)


class Permission(enum.StrEnum):
    """What a share grants. Each level includes the ones before it."""

    READ = "read"
    EDIT = "edit"
    MANAGE = "manage"


PERMISSION_ACTIONS: dict[Permission, frozenset[Action]] = {
    Permission.READ: frozenset({Action.READ}),
    Permission.EDIT: frozenset({Action.READ, Action.WRITE}),
    Permission.MANAGE: frozenset(Action) - {Action.DECLASSIFY},
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
    # An administrator issued the password: nothing but changing it until it is changed.
    must_change_password: bool = False
    # The ransomware guard froze the account's writes: reads only, until an administrator
    # unfreezes it (``polaris guard unfreeze``).
    writes_frozen: bool = False


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
    #: For a file's content: its malware scan state (``drive.scanning``) and who uploaded it;
    #: None when the content is not under scan (scanning off, or not content at all).
    scan_state: str | None = None
    uploader_id: int | None = None


#: Scan states under which content is kept from everyone but its uploader, and the quarantine.
SCAN_HELD = frozenset({"pending", "error"})
SCAN_QUARANTINED = "quarantined"
SCAN_PENDING = "scan_pending"
#: Denial reasons of rule 8: the actor may see the file, so the refusal may say why.
SCAN_REASONS = frozenset({SCAN_QUARANTINED, SCAN_PENDING})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def decide(actor: Actor, action: Action, resource: Resource, *, now: dt.datetime) -> Decision:
    decision = _decide(actor, action, resource, now=now)
    if decision.allowed and resource.scan_state is not None:
        return _scan_rule(actor, action, resource, decision)
    return decision


def decide_scan(actor: Actor, action: Action, resource: Resource) -> Decision:
    """Rule 8 alone, for content another decision already let the actor read (an attachment
    read through its room: the room decided, not the file's shares)."""
    allowed = Decision(True, "granted_elsewhere")
    return _scan_rule(actor, action, resource, allowed) if resource.scan_state else allowed


def _scan_rule(actor: Actor, action: Action, resource: Resource, allowed: Decision) -> Decision:
    """Rule 8, for an actor the other rules allowed."""
    if action not in (Action.READ, Action.SHARE):
        return allowed
    if resource.scan_state == "infected":
        return Decision(False, SCAN_QUARANTINED)
    if resource.scan_state in SCAN_HELD and actor.user_id != resource.uploader_id:
        return Decision(False, SCAN_PENDING)
    return allowed


def _decide(actor: Actor, action: Action, resource: Resource, *, now: dt.datetime) -> Decision:
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if actor.writes_frozen and action is not Action.READ:
        return Decision(False, "writes_frozen")
    if actor.token_scopes is not None and not _scope_allows(actor.token_scopes, action):
        return Decision(False, "token_scope")
    if actor.clearance < resource.classification:
        return Decision(False, "clearance")
    if action is Action.DECLASSIFY and actor.is_admin and _may_read(actor, resource, now=now):
        return Decision(True, "admin")
    owner = resource.owner_id is not None and resource.owner_id == actor.user_id
    if owner and action is not Action.DECLASSIFY:
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


def _may_read(actor: Actor, resource: Resource, *, now: dt.datetime) -> bool:
    """Whether the other rules let ``actor`` read ``resource``: an administrator lowers only
    what they may read. Lowering what they may not read would tell them that it exists (and
    answer with its name), where reading it says "not found", and downgrade unseen content."""
    return _decide(actor, Action.READ, resource, now=now).allowed


def _scope_allows(scopes: frozenset[str], action: Action) -> bool:
    if "all" in scopes:
        return True
    if action is Action.READ:
        return "read" in scopes or "write" in scopes
    return "write" in scopes


#: API token scopes, each including the ones before it.
TOKEN_SCOPES = ("read", "write", "all")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Need(enum.StrEnum):
    """What an operation needs of the credentials it is called with."""

    READ = "read"  # reading: a session or any token
    WRITE = "write"  # changing documents: a session or a ``write``/``all`` token
    ALL = "all"  # administration: a session or an ``all`` token (and ``decide_admin``)
    SESSION = "session"  # a signed-in session, never a token (tokens, password, MFA)
    # A session, even while a password change is due.
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a name, not a password


def route_need(method: str, declared: list[str] | tuple[str, ...] = ()) -> Need:
    """What a route needs: what it declares, else ``read`` for a safe method, ``write`` otherwise.

    The default makes a new state-changing route refuse a ``read`` token without anyone
    remembering to say so.
    """
    if declared:
        (need,) = declared
        return Need(need)
    return Need.READ if method.upper() in SAFE_METHODS else Need.WRITE


def decide_credentials(actor: Actor, need: Need) -> Decision:
    """May the credentials of this request be used for an operation that needs ``need``?

    1. A disabled actor may do nothing.
    2. While a password change is due, only the change itself (and signing out, which needs no
       caller) is allowed.
    3. A token never does what needs a session: making or revoking tokens, changing the
       password or MFA. Those need a signed-in session, which has passed MFA where the role
       requires it.
    4. A token does only what its scopes name (``read`` < ``write`` < ``all``).
    """
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if actor.must_change_password and need is not Need.PASSWORD_CHANGE:
        return Decision(False, "password_change_required")
    if actor.token_scopes is None:
        return Decision(True, "session")
    if need in (Need.SESSION, Need.PASSWORD_CHANGE):
        return Decision(False, "token_not_allowed")
    held = max((TOKEN_SCOPES.index(s) for s in actor.token_scopes if s in TOKEN_SCOPES), default=-1)
    if held >= TOKEN_SCOPES.index(need.value):
        return Decision(True, "token_scope")
    return Decision(False, "token_scope")


def decide_admin(actor: Actor, *, changes: bool = True) -> Decision:
    """Administration: the credentials must allow it (an ``all`` token at most) and the role must
    be an administrator's. An administrator whose writes the ransomware guard froze may still
    look (``changes=False``: the admin pages' GETs) but change nothing: their session or token
    may be the attacker's, and purging, releasing quarantined files, lifting holds or deleting
    retention rules are exactly what an attacker would do next. ``changes`` defaults to True so
    a new call site is safe unless it says it only reads."""
    credentials = decide_credentials(actor, Need.ALL)
    if not credentials.allowed:
        return credentials
    if not actor.is_admin:
        return Decision(False, "not_admin")
    if changes and actor.writes_frozen:
        return Decision(False, "writes_frozen")
    return Decision(True, "admin")


def decide_unfreeze(actor: Actor, *, user_id: int) -> Decision:
    """Lifting the ransomware guard's freeze on account ``user_id``: administration, and never on
    one's own account. A frozen administrator's session or token may be the attacker's, whose
    first act would be to lift the freeze; another administrator must look and lift it."""
    admin = decide_admin(actor, changes=False)
    if not admin.allowed:
        return admin
    if actor.user_id == user_id:
        return Decision(False, "own_freeze")
    if actor.writes_frozen:
        return Decision(False, "writes_frozen")
    return admin


@dataclass(frozen=True)
class GroupReach:
    """Which groups an actor may see, as the values a query filters on (``decide_group`` and the
    list query use the same reach, so the two cannot disagree)."""

    every_group: bool
    member_of: frozenset[int]
    unit_ids: frozenset[int]


def group_reach(actor: Actor) -> GroupReach:
    """Members see their groups; everyone in a group's unit sees it, and so do supervisors of the
    units above it (a role that reaches down the tree); administrators see every group.

    A group without a unit is seen only by its members and administrators.
    """
    units = {actor.unit_id}
    if actor.subtree_actions:
        # A supervisor sees the groups of their unit's whole subtree.
        units |= actor.descendant_unit_ids
    return GroupReach(
        every_group=actor.is_admin and not actor.disabled,
        member_of=frozenset() if actor.disabled else actor.group_ids,
        unit_ids=frozenset() if actor.disabled else frozenset(units),
    )


@dataclass(frozen=True)
class DirectoryReach:
    """What the directory's picker (``identity.suggest``) may show an actor, as query filters.

    Every signed-in officer may name every enabled account and every unit: the share form has
    always accepted any username and unit code, and office names are not secret inside the force.
    Groups follow :func:`group_reach`. A disabled actor finds nobody.
    """

    people: bool
    units: bool
    groups: GroupReach


def directory_reach(actor: Actor) -> DirectoryReach:
    live = not actor.disabled
    return DirectoryReach(people=live, units=live, groups=group_reach(actor))


def decide_group(actor: Actor, *, group_id: int, unit_id: int | None) -> Decision:
    """May the actor see this group and its members?"""
    reach = group_reach(actor)
    if reach.every_group:
        return Decision(True, "admin")
    if group_id in reach.member_of:
        return Decision(True, "member")
    if unit_id is not None and unit_id in reach.unit_ids:
        return Decision(True, "unit_role" if unit_id == actor.unit_id else "supervisory_reach")
    return Decision(False, "no_reach")


def decide_usage(actor: Actor, whole_space: Resource, *, now: dt.datetime) -> Decision:
    """May the actor see a space's quota figures (used and allowed bytes)?

    ``whole_space`` stands for everything in the space: its unit and owner, at the highest
    classification, with no shares (a share reaches part of a space, never all of it). The usage
    counts every byte, so anyone who could not see all of it would learn when something hidden
    was stored, and its size. Administrators set quotas and read the audit log, which already
    holds every upload's size, so they see the figures too.
    """
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if actor.is_admin:
        return Decision(True, "admin")
    return decide(actor, Action.READ, whole_space, now=now)


def _grant_applies(grant: Grant, actor: Actor, now: dt.datetime) -> bool:
    if grant.expires_at is not None and grant.expires_at <= now:
        return False
    return grant_names(grant, actor)


def grant_names(grant: Grant, actor: Actor) -> bool:
    """Whether a share is given to the actor: to them, their unit (or a unit above theirs, with
    the units below), or a group of theirs; whatever its expiry. The changes feed uses it to tell
    a share the caller holds from someone else's, which it must not mention."""
    if grant.subject_type == "user":
        return grant.subject_id == actor.user_id
    if grant.subject_type == "unit":
        if grant.subject_id == actor.unit_id:
            return True
        return grant.include_subunits and grant.subject_id in actor.ancestor_unit_ids
    if grant.subject_type == "group":
        return grant.subject_id in actor.group_ids
    return False


class ChatAction(enum.StrEnum):
    """What one does in a messenger room (``polaris.chat``)."""

    READ = "read"  # the timeline, members, state; attachments (with clearance)
    JOIN = "join"
    SEND = "send"
    INVITE = "invite"
    MODERATE = "moderate"  # kick, redact others' messages, see a broadcast's acknowledgements
    ACKNOWLEDGE = "acknowledge"


@dataclass(frozen=True)
class ChatRoomFacts:
    """What the chat rules need: the room's kind and the actor's place in it (``membership``
    None when the actor was never in it, or the room does not exist)."""

    room_id: int
    kind: str
    membership: str | None
    role: str | None = None
    #: For reading an attachment: its classification.
    classification: Classification = Classification.UNCLASSIFIED


#: Rooms whose members follow the hierarchy: nobody invites into them.
HIERARCHY_ROOMS = frozenset({"unit_channel", "broadcast"})
CHAT_MODERATORS = frozenset({"moderator", "owner"})


def decide_chat(actor: Actor, action: ChatAction, room: ChatRoomFacts) -> Decision:
    """The chat rules, in order; the first that decides wins.

    1. A disabled actor may do nothing; frozen writes or a ``read`` token allow reading only.
    2. Someone neither joined nor invited is not in the room: nothing (they are told it does not
       exist, like a missing room). An invited user may only join.
    3. Clearance: an attachment above the actor's clearance is not theirs to read, member or not.
    4. Members read and send; in a broadcast only moderators and owners send, and every member
       acknowledges. Only a group's members invite (a direct room has two, hierarchy rooms follow
       the units). Moderators and owners moderate.
    """
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if action is not ChatAction.READ:
        if actor.writes_frozen:
            return Decision(False, "writes_frozen")
        if actor.token_scopes is not None and not _scope_allows(actor.token_scopes, Action.WRITE):
            return Decision(False, "token_scope")
    if room.membership == "invite":
        if action is ChatAction.JOIN:
            return Decision(True, "invited")
        return Decision(False, "not_member")
    if room.membership != "join":
        return Decision(False, "not_member")
    if actor.clearance < room.classification:
        return Decision(False, "clearance")
    moderator = room.role in CHAT_MODERATORS
    if action in (ChatAction.READ, ChatAction.JOIN):
        return Decision(True, "member")
    if action is ChatAction.SEND:
        if room.kind == "broadcast" and not moderator:
            return Decision(False, "broadcast_sender")
        return Decision(True, "member")
    if action is ChatAction.INVITE:
        if room.kind == "group":
            return Decision(True, "member")
        return Decision(False, "room_kind")
    if action is ChatAction.ACKNOWLEDGE:
        if room.kind == "broadcast":
            return Decision(True, "member")
        return Decision(False, "room_kind")
    return Decision(moderator, "moderator" if moderator else "not_moderator")


def decide_chat_start(actor: Actor) -> Decision:
    """May the actor start a direct room or a group? Anyone whose credentials may write."""
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if actor.writes_frozen:
        return Decision(False, "writes_frozen")
    if actor.token_scopes is not None and not _scope_allows(actor.token_scopes, Action.WRITE):
        return Decision(False, "token_scope")
    return Decision(True, "member")


def decide_chat_export(actor: Actor, room: ChatRoomFacts) -> Decision:
    """May the actor export a room's whole record for an inquiry (deleted text and edits
    included)? Administrators only, whether they are in the room or not, and never a missing
    room. Reading, not changing: a frozen administrator may still export (an inquiry into the
    freeze needs it). Anyone else is told the room does not exist (``not_admin``)."""
    admin = decide_admin(actor, changes=False)
    if not admin.allowed:
        return admin
    if room.kind == "missing":
        return Decision(False, "missing")
    return Decision(True, "admin")


def decide_broadcast(actor: Actor, *, unit_id: int) -> Decision:
    """May the actor open a broadcast from ``unit_id`` to the units below it? Their own unit, with
    a role that reaches down the tree (a supervisor), or an administrator."""
    if actor.disabled:
        return Decision(False, "actor_disabled")
    if actor.writes_frozen:
        return Decision(False, "writes_frozen")
    if actor.token_scopes is not None and not _scope_allows(actor.token_scopes, Action.WRITE):
        return Decision(False, "token_scope")
    if actor.is_admin:
        return Decision(True, "admin")
    if unit_id == actor.unit_id and actor.subtree_actions:
        return Decision(True, "supervisory_reach")
    return Decision(False, "no_reach")
