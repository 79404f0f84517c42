"""The trash: delete (to the trash), list, restore, and purge for good (administrators only).

Deleting marks only the node the user chose; what is below it goes with it and comes back with it.
Preconditions as in ``polaris.drive.service``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access import service as access
from polaris.access.policy import Action, Actor
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events, holds, repo, spaces
from polaris.drive._locate import Located, locate, locate_many, require_folder, require_node
from polaris.drive.names import normalise_name
from polaris.drive.preconditions import check_if_match
from polaris.drive.service import audit_node, place_node
from polaris.errors import Conflict, NotFound


def trash_node(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    if_match: str | None = None,
) -> Located:
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.DELETE
    )
    if located.is_root:
        raise Conflict("the root of a space cannot be deleted", code="is_root")
    check_if_match(located, if_match, actor.clearance)
    now = utcnow()
    located.node.trashed_at = now
    located.node.trashed_by = actor.user_id
    session.flush()
    repo.touch(
        session,
        repo.path_ids(located.ancestors[-1].path),
        level=int(located.classification),
        now=now,
    )
    audit_node(session, context, "node.trash", located)
    events.node_changed(session, events.NODE_TRASHED, located, actor=actor)  # with its subtree
    return located


def list_trash(
    *, session: Session, actor: Actor, context: AuditContext, space_id: int
) -> list[Located]:
    """What was deleted in a space (the deleted nodes themselves, not what went with them).

    NotFound for a space the actor cannot see at all.
    """
    spaces.get_space(session=session, actor=actor, space_id=space_id, context=context)
    result = []
    trashed = repo.trashed_in_space(session, space_id)
    found = locate_many(session, [node.id for node in trashed])  # a few queries, not N
    for node in trashed:
        located = found.get(node.id)
        if located is None:
            continue
        if any(a.trashed_at is not None for a in located.ancestors):
            continue  # inside a deleted folder: restored with it
        if access.can(actor, Action.READ, located.resource()):
            result.append(located)
    return result


def restorable(*, session: Session, actor: Actor, ids: list[int]) -> list[Located]:
    """Of ``ids``, the nodes still in the trash that the actor could restore (to offer "undo"
    after a delete). Not audited: it answers only about nodes the actor just deleted, and a
    node it may not see is left out, as in any listing."""
    found = locate_many(session, ids) if ids else {}
    return [
        located
        for node_id in ids
        if (located := found.get(node_id)) is not None
        and located.node.trashed_at is not None
        and access.can(actor, Action.DELETE, located.resource())
    ]


def restore_node(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    parent_id: int | None = None,
    name: str | None = None,
) -> Located:
    """Bring a deleted node back to its folder, or to ``parent_id`` (and ``name``) when asked.

    Conflict ``name_taken`` if the name is in use there, ``restore_target_gone`` if the original
    folder is itself deleted; the caller then picks a place or a name.
    """
    located = require_node(
        session=session,
        actor=actor,
        context=context,
        node_id=node_id,
        action=Action.DELETE,
        allow_trashed=True,
    )
    node = located.node
    if node.trashed_at is None:
        if located.in_trash:
            raise Conflict("restore the deleted folder that holds this", code="inside_trash")
        raise Conflict("this node is not in the trash", code="not_in_trash")
    back_home = parent_id is None or parent_id == node.parent_id
    if back_home and any(a.trashed_at is not None for a in located.ancestors):
        raise Conflict("the original folder is deleted too", code="restore_target_gone")
    new_name = node.name if name is None else normalise_name(name)
    old_parent_path = repo.path_ids(located.ancestors[-1].path)
    if back_home:
        target = located.ancestors[-1]
    else:
        assert parent_id is not None
        destination = require_folder(
            session=session, actor=actor, context=context, node_id=parent_id, action=Action.WRITE
        )
        if node.id in repo.path_ids(destination.node.path):
            raise Conflict("a folder cannot be moved into itself", code="move_into_itself")
        target = destination.node
    restored = place_node(
        session, located, target, new_name, old_parent_path=old_parent_path, untrash=True
    )
    audit_node(
        session,
        context,
        "node.restore",
        restored,
        detail={"parent_id": target.id, "name": new_name},
    )
    events.node_changed(session, events.NODE_RESTORED, restored, actor=actor)  # with its subtree
    return restored


def purge_node(*, session: Session, actor: Actor, context: AuditContext, node_id: int) -> int:
    """Delete a trashed node and its subtree for good (metadata; blobs go with retention GC).

    Administrators only. Conflict ``legal_hold`` (audited) when a legal hold is on the node, a
    folder above it or anything below it. Returns the number of bytes released from the space's
    quota.
    """
    gate.require_admin(session=session, actor=actor, operation="node.purge", context=context)
    located = locate(session, node_id)
    if located is None:
        raise NotFound("node not found")
    if located.node.trashed_at is None:
        raise Conflict("only a node in the trash can be purged", code="not_in_trash")
    return purge_located(session=session, actor=actor, context=context, located=located)


def purge_located(
    *, session: Session, actor: Actor | None, context: AuditContext, located: Located
) -> int:
    """The purge itself, for a caller that has decided it may be done: an administrator's
    request above, or the retention job (``actor`` None). A legal hold still refuses it."""
    hold = holds.blocking_purge(session, located.node)
    if hold is not None:
        holds.refuse_held(session, context, located, hold, "node.purge")
    nodes = repo.subtree(session, located.node)
    size = repo.subtree_size(session, located.node)
    audit_node(session, context, "node.purge", located, detail={"nodes": len(nodes), "bytes": size})
    ids = [n.id for n in reversed(nodes)]
    purged = events.to_purge(located, nodes, repo.version_ids_by_node(session, ids))
    # What was derived from the versions (previews, text) goes with their rows (ON DELETE
    # CASCADE); the index and the rest follow the events, appended once the rows are gone.
    repo.delete_subtree_rows(session, ids)
    repo.release_bytes(session, located.space.id, size)
    events.nodes_purged(session, located.space.id, purged, actor=actor)
    return size
