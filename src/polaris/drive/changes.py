"""The changes feed: what changed in the drive since a position, for one caller.

A sync client (desktop or phone) lists what it mirrors once, then follows this feed instead of
listing again (``docs/sync.md``). The feed reads the change stream (``polaris.events``) and turns
each page of events into entries about nodes, filtered by what the caller may see:

- A node the caller may see **now** (live, not in the trash) is reported once per page, with its
  state now (id, space, parent, name, kind, ETag as the caller's clearance sees it) and the kinds
  of the page's events about it. The client need not replay events: it takes the state, and
  fetches what else it wants (a folder new to it is listed).
- A node the caller may not see now is reported ``gone`` (its id, nothing else: not why) only if
  one of the page's events took it away and the caller provably could see it just before that
  event (``polaris.drive._hindsight``). Otherwise the event leaves no trace: the page is the same,
  entry for entry and byte for byte, as if the event had been one about something else the caller
  cannot see. The next position moves over it like over any other event, since positions count
  every change on the server; they tell how much changed, never what or where.
- A share is mentioned only to its grantee (the caller, their unit or one of their groups): who
  else holds a share is for those who may manage it.
- ``relist`` says that the caller's own reach changed (their unit, role, clearance, a group of
  theirs, the units around theirs): what they may see changed as a whole, so they list again.

A page scans at most ``limit`` events, whether or not any of them is reported, and answers the
position to ask from next; a client never reads an event twice, nor skips one. The decisions of a
page are batched: the same queries run for every page that holds any event (each once per 500
ids), whatever the events are about, so that a page with hidden changes costs what a page of
changes to missing nodes costs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris import events
from polaris.access import Action, Actor, Grant, Permission, grant_names
from polaris.access import service as access
from polaris.clock import utcnow
from polaris.drive import repo, shares_repo
from polaris.drive._hindsight import LOSSES, about_caller, int_in, seen_before
from polaris.drive._locate import NO_ID, Located, batches, grant_of
from polaris.drive.models import Node, Share
from polaris.errors import Gone, PolarisError
from polaris.events import Event

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
#: Kinds whose subject is the node itself.
NODE_KINDS = frozenset(
    {
        "node.created",
        "node.renamed",
        "node.moved",
        "node.copied",
        "node.trashed",
        "node.restored",
        "node.purged",
        "node.classified",
    }
)
#: Kinds about a file's content: ``data["node_id"]`` is the file.
VERSION_KINDS = frozenset({"version.added", "version.restored"})
#: Kinds about a share: ``data["node_id"]`` is the shared node, the share is the subject.
SHARE_KINDS = frozenset({"share.granted", "share.changed", "share.revoked"})


@dataclass(frozen=True)
class Change:
    """One node of a page: its state now, or ``gone`` (``node`` is then None)."""

    node_id: int
    gone: bool
    kinds: tuple[str, ...] = ()
    node: Node | None = None


@dataclass(frozen=True)
class ChangesPage:
    changes: list[Change]
    #: Ask from here next (the last position scanned, reported or not).
    next_position: int
    #: More events were already there when the page was read.
    more: bool
    #: The caller's reach changed as a whole: list again, then go on from ``next_position``.
    relist: bool


def changes_since(
    *, session: Session, actor: Actor, since: int | None, limit: int = DEFAULT_LIMIT
) -> ChangesPage:
    """The caller's changes after position ``since`` (at most ``limit`` events scanned).

    ``since`` None: no changes, and the newest position to follow from (a new client asks this
    first, then lists). Raises ``PolarisError`` ``invalid_position`` for a position not given out
    yet, and ``Gone`` ``changes_expired`` when events after ``since`` were compacted away: the
    client lists again. Reads only; not audited (a listing is not either: the feed tells nothing
    a listing would not).
    """
    head = events.head_position(session)
    if since is None:
        return ChangesPage([], head, more=False, relist=False)
    if since > head:
        raise PolarisError("no change has this position yet", code="invalid_position")
    scanned = events.since(session, after=since, limit=max(1, min(limit, MAX_LIMIT)))
    _require_unbroken(since, head, scanned)
    if not scanned:
        return ChangesPage([], since, more=False, relist=False)
    shares = _shares_named(session, scanned)
    about: dict[int, list[Event]] = {}  # node id -> its events, in the order first seen
    for event in scanned:
        node_id = _node_of(actor, event, shares)
        if node_id is not None:
            about.setdefault(node_id, []).append(event)
    located = _locate_page(session, about)
    visible = {
        node_id
        for node_id, found in located.items()
        if not found.in_trash and access.can(actor, Action.READ, found.resource())
    }
    losses = [
        (node_id, event)
        for node_id, found in about.items()
        if node_id not in visible
        for event in found
        if event.kind in LOSSES
    ]
    gone = seen_before(session, actor, losses, after=since)
    changes = []
    for node_id, found in about.items():
        if node_id in visible:
            kinds = tuple(dict.fromkeys(event.kind for event in found))
            changes.append(Change(node_id, False, kinds, located[node_id].node))
        elif node_id in gone:
            changes.append(Change(node_id, True))
    relist = any(about_caller(actor, e.kind, e.subject_type, e.subject_id, e.data) for e in scanned)
    next_position = scanned[-1].position
    return ChangesPage(changes, next_position, more=next_position < head, relist=relist)


def _locate_page(session: Session, node_ids: Iterable[int]) -> dict[int, Located]:
    """``locate_many`` with the same queries whether the nodes exist or not (as ``locate``): a
    page with a change to a hidden node costs what one with a change to a missing node costs."""
    nodes: dict[int, Node] = {}
    for batch in batches(node_ids):
        nodes.update(repo.nodes_by_id(session, batch))
    paths = {node.id: repo.path_ids(node.path) for node in nodes.values()}
    by_id = dict(nodes)
    for batch in batches(i for ids in paths.values() for i in ids if i not in nodes):
        by_id.update(repo.nodes_by_id(session, batch))
    spaces = repo.spaces_by_id(session, [node.space_id for node in nodes.values()] or [NO_ID])
    on_path: dict[int, list[Share]] = {}
    now = utcnow()
    for batch in batches(i for ids in paths.values() for i in ids):
        for share in shares_repo.shares_on(session, batch, now=now):
            on_path.setdefault(share.node_id, []).append(share)
    found: dict[int, Located] = {}
    for node_id, node in nodes.items():
        ids = paths[node_id]
        ancestors = tuple(by_id[i] for i in ids[:-1] if i in by_id)
        space = spaces.get(node.space_id)
        if space is None or len(ancestors) != len(ids) - 1:
            continue
        shares = tuple(sorted((s for i in ids for s in on_path.get(i, ())), key=lambda s: s.id))
        found[node_id] = Located(node=node, space=space, ancestors=ancestors, shares=shares)
    return found


def _require_unbroken(since: int, head: int, scanned: Sequence[Event]) -> None:
    """Positions have no gaps, so a page that does not go on from ``since`` one by one lost
    events to compaction (``polaris.events.service.compact``)."""
    expected = since + 1
    for event in scanned:
        if event.position != expected:
            break
        expected += 1
    else:
        if scanned or since == head:
            return
    raise Gone(
        "the changes after this position are no longer kept; list again",
        code="changes_expired",
    )


def _shares_named(session: Session, scanned: Sequence[Event]) -> Mapping[int, Grant]:
    """The shares of the page's share events, as grants (one query): the row says whether a
    unit share includes the units below, which the event does not."""
    ids = sorted({e.subject_id for e in scanned if e.kind in SHARE_KINDS})
    return {
        share_id: grant_of(share)
        for share_id, share in shares_repo.shares_by_id(session, ids).items()
    }


def _node_of(actor: Actor, event: Event, shares: Mapping[int, Grant]) -> int | None:
    """The node an event is about, for this caller; None when it is about none they may hear of."""
    if event.kind in NODE_KINDS and event.subject_type == "node":
        return event.subject_id
    if event.kind in VERSION_KINDS:
        return int_in(event.data, "node_id")
    if event.kind in SHARE_KINDS and _held_by(actor, event, shares.get(event.subject_id)):
        return int_in(event.data, "node_id")
    return None


def _held_by(actor: Actor, event: Event, grant: Grant | None) -> bool:
    """Whether the share of a share event is given to the caller (its row when it is kept, else
    the grantee the event names, without the units below)."""
    if grant is None:
        named = [(kind, int_in(event.data, f"{kind}_id")) for kind in ("user", "unit", "group")]
        found = [(kind, subject_id) for kind, subject_id in named if subject_id is not None]
        if len(found) != 1:
            return False
        kind, subject_id = found[0]
        grant = Grant(subject_type=kind, subject_id=subject_id, permission=Permission.READ)
    return grant_names(grant, actor)
