"""Could the caller see a node when an event took it out of their sight? (the feed's ``gone``)

The changes feed (``polaris.drive.changes``) reports a node the caller may see now with its
current state. A node the caller may **not** see now is reported ``gone`` only when this module
proves that the caller could see it when the event happened; otherwise the feed says nothing. A
``gone`` for a node the caller never could see would tell them its id and the time of a change
to it, and a denial and a missing object must look the same. What cannot be proved is left to
the client's ETag check (``docs/sync.md`` lists those cases).

The state at the event is rebuilt from the event and from rows that provably have not changed
since:

- **Where the node was.** The event names the space and the parent (``from_space_id`` and
  ``from_parent_id`` for a move). The parent's path today gives the folders above it, as long as
  none of them has been moved or restored elsewhere since the event. Every such change appends an
  event in its own transaction, so a change that today's rows show has an event after this one,
  sequenced or still waiting for its position (``events.later_events``).
- **Its level.** The event's ``level`` where the change left it alone (trash, purge), its
  ``from_level`` for a reclassification (both effective levels: ``drive/events.py``). A move's
  ``level`` is the one after it; the one before is the higher of the node's own level and the
  levels on the old path, today's, as long as none of them has been reclassified since.
- **The shares in effect.** Every share on that path or on the node that was created before the
  event and not revoked by then (revoked rows are kept); expiry judged at the event's time.
- **Who the caller was.** Their unit, role, clearance and groups as they are now, as long as none
  of them changed after the event (``about_caller``).
- **A revoked or changed share** names its grantee (its row is kept): the caller held it, and was
  cleared for the node's level, at the event.

Share rows and events carry the time they were written: a share created by another transaction in
the very moment of the event (or, across servers, within their clock skew) counts as in effect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from polaris import events
from polaris.access import Action, Actor, Classification, Resource, decide
from polaris.drive import repo, shares_repo
from polaris.drive._locate import NO_ID, RESOURCE_KIND, batches, grant_of
from polaris.drive.models import Share
from polaris.events import Event, Later

#: Node changes that can take a node out of someone's sight.
NODE_LOSSES = frozenset({"node.moved", "node.trashed", "node.purged", "node.classified"})
#: Share changes that can end someone's sight of a node (an expiry moved closer, a revocation).
SHARE_LOSSES = frozenset({"share.changed", "share.revoked"})
LOSSES = NODE_LOSSES | SHARE_LOSSES
#: Later changes after which today's rows no longer show where a node was, or at what level.
RESHAPING = ("node.moved", "node.restored", "node.classified")
#: Of those, the ones that change where a node is (the others change only levels).
REPLACING = frozenset({"node.moved", "node.restored"})
#: Changes of what a caller reaches as a whole: their account, groups, and units around theirs.
USER_KINDS = ("user.moved", "user.changed", "user.enabled")
MEMBER_KINDS = ("group.member_added", "group.member_removed")
UNIT_KINDS = ("unit.moved",)


def about_caller(
    actor: Actor, kind: str, subject_type: str, subject_id: int, data: Mapping[str, object]
) -> bool:
    """Whether a change alters what ``actor`` reaches as a whole: their unit, role or clearance,
    a group of theirs, or the place of a unit that their reach depends on."""
    if subject_type == "user":
        return kind in USER_KINDS and subject_id == actor.user_id
    if subject_type == "group":
        return kind in MEMBER_KINDS and data.get("user_id") == actor.user_id
    if subject_type == "unit" and kind in UNIT_KINDS:
        below = {actor.unit_id} | actor.descendant_unit_ids
        return subject_id in below | actor.ancestor_unit_ids or data.get("parent_id") in below
    return False


def seen_before(
    session: Session, actor: Actor, losses: Sequence[tuple[int, Event]], *, after: int
) -> set[int]:
    """Of these (node id, event) pairs, where the caller may not see the node now and the event
    (after position ``after``) may have taken it away (a kind in :data:`LOSSES`), the nodes the
    caller provably could see when the event happened.

    The same queries run however many pairs there are, none included (each once per 500 ids):
    the time of a page must not tell that it held a change to a hidden node.
    """
    reach_changed = _reach_changed_after(session, actor, after=after)
    steady = [(node_id, event) for node_id, event in losses if not reach_changed(event.position)]
    node_losses = [(n, e) for n, e in steady if e.kind in NODE_LOSSES]
    share_losses = [(n, e) for n, e in steady if e.kind in SHARE_LOSSES]
    return _seen_in_place(session, actor, node_losses, after) | _seen_through_share(
        session, actor, share_losses
    )


def _reach_changed_after(session: Session, actor: Actor, *, after: int) -> Callable[[int], bool]:
    """A test: did the caller's reach change after this position? (Joining a group, moving unit
    or gaining clearance later must not make an old event look as if they could see it.)"""
    found = events.later_events(
        session, after=after, subject_type="user", subject_ids=[actor.user_id], kinds=USER_KINDS
    )
    found += events.later_events(  # a group joined later is one of theirs now
        session,
        after=after,
        subject_type="group",
        subject_ids=sorted(actor.group_ids) or [NO_ID],
        kinds=MEMBER_KINDS,
    )
    found += events.later_events(
        session, after=after, subject_type="unit", subject_ids=None, kinds=UNIT_KINDS
    )
    mine = [
        later
        for later in found
        if about_caller(actor, later.kind, _subject_type(later.kind), later.subject_id, later.data)
    ]
    return lambda position: any(later.after(position) for later in mine)


def _subject_type(kind: str) -> str:
    return kind.split(".", 1)[0]


@dataclass(frozen=True)
class _Place:
    """Where the node was, just before the event, as the event tells it."""

    node_id: int
    event: Event
    space_id: int
    parent_id: int
    #: The node's effective level then (a move's: to be read from today's rows).
    level: int | None


def _place(node_id: int, event: Event) -> _Place | None:
    data = event.data
    if event.kind == "node.moved":
        space_id, parent_id = int_in(data, "from_space_id"), int_in(data, "from_parent_id")
        level = None
    else:  # trashed, purged, classified: the level before is in the event
        space_id, parent_id = event.space_id, int_in(data, "parent_id")
        level = int_in(data, "from_level" if event.kind == "node.classified" else "level")
        if level is None:
            return None
    if space_id is None or parent_id is None:
        return None
    return _Place(node_id, event, space_id, parent_id, level)


def _seen_in_place(
    session: Session, actor: Actor, losses: Sequence[tuple[int, Event]], after: int
) -> set[int]:
    places = [place for n, e in losses if (place := _place(n, e)) is not None]
    moved = {p.node_id for p in places if p.event.kind == "node.moved"}
    facts = _facts(session, {p.parent_id for p in places} | moved)
    paths = {
        p.parent_id: repo.path_ids(facts[p.parent_id].path) for p in places if p.parent_id in facts
    }
    on_paths = {i for ids in paths.values() for i in ids}
    facts.update(_facts(session, on_paths - facts.keys()))
    spaces = repo.spaces_by_id(session, [p.space_id for p in places] or [NO_ID])
    watched = on_paths | moved | {p.node_id for p in places}
    shares: dict[int, list[Share]] = {}
    for batch in batches(watched):
        for share in shares_repo.shares_ever_on(session, batch):
            shares.setdefault(share.node_id, []).append(share)
    later: dict[int, list[Later]] = {}
    for batch in batches(watched):
        for found in events.later_events(
            session, after=after, subject_type="node", subject_ids=batch, kinds=RESHAPING
        ):
            later.setdefault(found.subject_id, []).append(found)
    seen: set[int] = set()
    for place in places:
        path = paths.get(place.parent_id)
        space = spaces.get(place.space_id)
        if path is None or space is None or any(i not in facts for i in path):
            continue  # the old folder or one above it is gone: nothing to judge by
        position, at = place.event.position, place.event.created_at
        level = place.level
        reshaped = REPLACING if level is not None else frozenset(RESHAPING)
        if any(
            change.kind in reshaped and change.after(position)
            for i in path
            for change in later.get(i, ())
        ):
            continue  # a folder on the path moved (or, for a move, was reclassified) since
        if level is None:  # a move: the old path's levels and the node's own, unchanged since
            own = facts.get(place.node_id)
            reclassified = any(
                change.kind == "node.classified" and change.after(position)
                for change in later.get(place.node_id, ())
            )
            if own is None or reclassified:
                continue
            level = max(own.classification, *(facts[i].classification for i in path))
        grants = tuple(
            grant_of(share)
            for i in (*path, place.node_id)
            for share in shares.get(i, ())
            if _in_effect(share, at)
        )
        resource = Resource(
            kind=RESOURCE_KIND,
            id=str(place.node_id),
            unit_id=space.unit_id,
            classification=_classification(level),
            owner_id=space.owner_id,
            grants=grants,
        )
        if decide(actor, Action.READ, resource, now=at).allowed:
            seen.add(place.node_id)
    return seen


def _seen_through_share(
    session: Session, actor: Actor, losses: Sequence[tuple[int, Event]]
) -> set[int]:
    """Nodes the caller held a share of (the revoked or changed one) when the event happened."""
    rows: dict[int, Share] = {}
    for batch in batches(event.subject_id for _, event in losses):
        rows.update(shares_repo.shares_by_id(session, batch))
    seen: set[int] = set()
    for node_id, event in losses:
        share = rows.get(event.subject_id)
        level = int_in(event.data, "level")
        if share is None or share.node_id != node_id or level is None:
            continue
        if share.created_at > event.created_at:
            continue
        resource = Resource(
            kind=RESOURCE_KIND,
            id=str(node_id),
            unit_id=None,
            classification=_classification(level),
            grants=(grant_of(share),),
        )
        if decide(actor, Action.READ, resource, now=event.created_at).allowed:
            seen.add(node_id)
    return seen


def _facts(session: Session, ids: set[int]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for batch in batches(ids):
        found.update({row.id: row for row in repo.node_facts(session, batch)})
    return found


def _in_effect(share: Share, at: dt.datetime) -> bool:
    """Created by ``at`` and not revoked by then (its expiry is the policy's to judge)."""
    return share.created_at <= at and (share.revoked_at is None or share.revoked_at > at)


def _classification(level: int) -> Classification:
    """A stored level as the policy's type; anything above the top is the top."""
    return Classification(min(max(level, 0), max(Classification)))


def int_in(data: Mapping[str, object], key: str) -> int | None:
    """An id or level of an event's data (None when missing or not an integer)."""
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
