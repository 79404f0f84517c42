"""Copying a file or a folder tree: content is shared, never duplicated in storage.

Preconditions as in ``polaris.drive.service``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access.policy import Action, Actor, Classification
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events, repo
from polaris.drive._locate import Located, require_folder, require_node
from polaris.drive.models import FILE, Node
from polaris.drive.service import add_version, audit_node, insert_node, relocate
from polaris.errors import Conflict, QuotaExceeded
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore


def copy_node(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    blobs: BlobStore,
    node_id: int,
    parent_id: int,
    name: str | None = None,
) -> Located:
    """Copy a file or a folder tree. Content is shared (no byte copied); each copied file gets a
    version 1 with a manifest of its own. Only what the actor may read is copied.
    """
    source = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.READ
    )
    destination = require_folder(
        session=session, actor=actor, context=context, node_id=parent_id, action=Action.WRITE
    )
    if source.node.id in repo.path_ids(destination.node.path):
        raise Conflict("a folder cannot be copied into itself", code="copy_into_itself")
    nodes = [n for n in repo.subtree(session, source.node) if n.trashed_at is None]
    readable = _readable_subtree(nodes, source.node.id, int(actor.clearance))
    files = [n for n in readable if n.kind == FILE and n.current_version_id is not None]
    versions = repo.versions_by_id(
        session, [n.current_version_id for n in files if n.current_version_id]
    )
    total = sum(versions[n.current_version_id].size for n in files if n.current_version_id)
    if not repo.reserve_bytes(session, destination.space.id, total):
        raise QuotaExceeded("the destination space has no room for this copy")
    copies: dict[int, Located] = {}
    first: Located | None = None
    for original in readable:
        parent = destination if original.id == source.node.id else copies[original.parent_id or 0]
        new = insert_node(
            session,
            actor=actor,
            parent=parent,
            name=(name if name is not None and original.id == source.node.id else original.name),
            kind=original.kind,
            # The top copy keeps the source's effective level: a copy never declassifies.
            classification=Classification(
                int(source.classification)
                if original.id == source.node.id
                else original.classification
            ),
        )
        located = relocate(session, new.id)
        if original.id == source.node.id:
            # One event for the copied subtree, before the ``version.added`` of each copied file.
            events.node_changed(
                session,
                events.NODE_COPIED,
                located,
                actor=actor,
                source_id=node_id,
                folder=located.is_folder,
            )
        if original.kind == FILE and original.current_version_id is not None:
            version = versions[original.current_version_id]
            add_version(
                session,
                actor=actor,
                blobs=blobs,
                located=located,
                content=ContentRef.from_dict(version.content),
                content_type=version.content_type,
                first=True,
            )
            located = relocate(session, new.id)
        copies[original.id] = located
        if first is None:
            first = located
    assert first is not None
    repo.touch(
        session,
        repo.path_ids(destination.node.path),
        level=int(first.classification),
        now=utcnow(),
    )
    audit_node(
        session,
        context,
        "node.copy",
        first,
        detail={"source_id": node_id, "nodes": len(copies), "bytes": total},
    )
    return first


def _readable_subtree(nodes: list[Node], top_id: int, clearance: int) -> list[Node]:
    """Nodes (parents first) whose own level and every ancestor's are within ``clearance``."""
    kept: set[int] = set()
    result = []
    for node in nodes:
        if node.classification > clearance:
            continue
        if node.id != top_id and node.parent_id not in kept:
            continue
        kept.add(node.id)
        result.append(node)
    return result
