"""The drive's change events, appended in the transaction of each change (``polaris.events``).

The kinds and their data are the catalogue in ``docs/events.md``: ids, levels and flags, never a
name. ``level`` is the node's effective classification after the change (the highest on its path),
``space_id`` the space it is in after the change. Whoever follows the drive (search, ingest, the
changes feed) reads these events instead of being called by the drive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris import events
from polaris.access.policy import Actor
from polaris.drive._locate import Located
from polaris.drive.models import FOLDER, FileVersion, Node, Share

NODE_CREATED = "node.created"
NODE_RENAMED = "node.renamed"
NODE_MOVED = "node.moved"
NODE_COPIED = "node.copied"
NODE_TRASHED = "node.trashed"
NODE_RESTORED = "node.restored"
NODE_PURGED = "node.purged"
NODE_CLASSIFIED = "node.classified"
VERSION_ADDED = "version.added"
VERSION_RESTORED = "version.restored"
#: A malware scan's verdict on a version's content: what may be shown of it changed.
VERSION_SCANNED = "version.scanned"
#: A version removed because an administrator deleted its content as malware (``drive.quarantine``).
VERSION_DELETED = "version.deleted"
SHARE_GRANTED = "share.granted"
SHARE_CHANGED = "share.changed"
SHARE_REVOKED = "share.revoked"

#: Whose change: the acting user (None for a change no user made).
ActorId = int | None

#: A share's permission as a number, in the order each includes the one before.
PERMISSION_LEVELS = {"read": 1, "edit": 2, "manage": 3}


def actor_id(actor: Actor | None) -> ActorId:
    return actor.user_id if actor is not None else None


def node_changed(
    session: Session,
    kind: str,
    located: Located,
    *,
    actor: Actor | None,
    **data: int | bool | None,
) -> None:
    """A node event with the node's place and effective level after the change, and ``data``."""
    events.append(
        session,
        kind=kind,
        subject=("node", located.node.id),
        space_id=located.space.id,
        actor_id=actor_id(actor),
        data={
            "parent_id": located.node.parent_id,
            "level": int(located.classification),
            **data,
        },
    )


def node_created(session: Session, located: Located, *, actor: Actor | None) -> None:
    node_changed(session, NODE_CREATED, located, actor=actor, folder=located.node.kind == FOLDER)


def append_recovered(
    session: Session, kind: str, subject: tuple[str, int], space_id: int, **data: int | bool
) -> None:
    """An event of a node or version rebuilt by ``polaris recover`` (``drive.recovery``): the
    catalogue's kind and data, no actor (nobody acted on it in this instance)."""
    events.append(session, kind=kind, subject=subject, space_id=space_id, data=data)


def content_scanned(session: Session, places: Sequence[tuple[int, int, int]]) -> None:
    """``version.scanned`` for each (version id, node id, space id) holding newly judged content."""
    for version_id, node_id, space_id in places:
        events.append(
            session,
            kind=VERSION_SCANNED,
            subject=("version", version_id),
            space_id=space_id,
            data={"node_id": node_id},
        )


def version_recorded(
    session: Session, version: FileVersion, located: Located, *, actor: Actor | None
) -> None:
    """``version.added``, or ``version.restored`` for a version made from an older one."""
    events.append(
        session,
        kind=VERSION_RESTORED if version.restored_from is not None else VERSION_ADDED,
        subject=("version", version.id),
        space_id=located.space.id,
        actor_id=actor_id(actor),
        data={
            "node_id": located.node.id,
            "parent_id": located.node.parent_id,
            "level": int(located.classification),
        },
    )


def version_deleted(
    session: Session, version_id: int, located: Located, *, actor: Actor | None
) -> None:
    """``version.deleted``: the version's row is gone (its derived rows with it)."""
    events.append(
        session,
        kind=VERSION_DELETED,
        subject=("version", version_id),
        space_id=located.space.id,
        actor_id=actor_id(actor),
        data={
            "node_id": located.node.id,
            "parent_id": located.node.parent_id,
            "level": int(located.classification),
        },
    )


@dataclass(frozen=True)
class Purged:
    """What a ``node.purged`` event says of a node, read before its rows go."""

    node_id: int
    parent_id: int | None
    level: int
    version_ids: list[int]


def to_purge(
    top: Located, nodes: Sequence[Node], version_ids: dict[int, list[int]]
) -> list[Purged]:
    """The subtree of ``top`` (``nodes``, parents before children) as its purge events will name
    it: each node with its own effective level."""
    inherited = max((node.classification for node in top.ancestors), default=0)
    levels: dict[int, int] = {}
    found = []
    for node in nodes:
        above = inherited if node.id == top.node.id else levels[node.parent_id or 0]
        levels[node.id] = max(above, node.classification)
        found.append(
            Purged(node.id, node.parent_id, levels[node.id], sorted(version_ids.get(node.id, [])))
        )
    return found


def nodes_purged(
    session: Session, space_id: int, purged: Sequence[Purged], *, actor: Actor | None
) -> None:
    """One ``node.purged`` per purged node, parents first (appended once the rows are gone)."""
    for node in purged:
        events.append(
            session,
            kind=NODE_PURGED,
            subject=("node", node.node_id),
            space_id=space_id,
            actor_id=actor_id(actor),
            data={
                "parent_id": node.parent_id,
                "level": node.level,
                "version_ids": node.version_ids,
            },
        )


def share_changed(
    session: Session, kind: str, share: Share, located: Located, *, actor: Actor | None
) -> None:
    """A share event naming its node and its grantee (``user_id``, ``unit_id`` or ``group_id``)."""
    events.append(
        session,
        kind=kind,
        subject=("share", share.id),
        space_id=located.space.id,
        actor_id=actor_id(actor),
        data={
            "node_id": located.node.id,
            "level": int(located.classification),
            f"{share.subject_type}_id": share.subject_id,
            "permission_level": PERMISSION_LEVELS[share.permission],
        },
    )
