"""Node operations: get, list, create, rename, move, copy, classify, trash, restore, purge.

Preconditions for every function: an open transaction on ``session`` (the caller commits) and an
``actor`` resolved for this request. Each function authorises through ``access`` first and appends
its audit record and its change event (``drive.events``) last, in the same transaction: search,
previews and text follow the event (their consumers), never a call from here. Content (upload,
download, versions) lives in ``polaris.drive.content``, shares in ``polaris.drive.shares``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError as DbIntegrityError
from sqlalchemy.orm import Session

from polaris.access.policy import Action, Actor, Classification
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import events, repo, scanning, shares_repo, stamps
from polaris.drive._cursor import SortField, decode_cursor, encode_cursor
from polaris.drive._locate import Located, children_of, locate, require_folder, require_node
from polaris.drive.models import FILE, FOLDER, FileVersion, Node
from polaris.drive.names import normalise_name, sort_key
from polaris.drive.preconditions import check_if_match
from polaris.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ValidationFailed,
)
from polaris.storage.manifest import FileMetadata
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore

MAX_PAGE = 1000
MAX_DEPTH = 64


def audit_node(
    session: Session,
    context: AuditContext,
    action: str,
    located: Located,
    *,
    version_hash: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.append(
        session=session,
        context=context,
        action=action,
        object_type="node",
        object_id=located.node.id,
        version_hash=version_hash,
        classification=located.classification.name.lower(),
        detail=detail,
    )


def get_node(*, session: Session, actor: Actor, context: AuditContext, node_id: int) -> Located:
    """Metadata of a node (not its content: reading that is audited in ``content``)."""
    return require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.READ
    )


@dataclass(frozen=True)
class Page:
    items: list[Located]
    next_cursor: str | None


def list_children(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    folder_id: int,
    sort: SortField = "name",
    descending: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[Located, Page]:
    """One page of a folder's live children that the actor may see, folders first.

    The order is total (ties broken by id), so a cursor resumes exactly where the page ended even
    while others add or rename files. Nodes above the actor's clearance are filtered in the query:
    the folder itself is readable, so a child is readable unless its own level is too high.
    """
    folder = require_folder(
        session=session, actor=actor, context=context, node_id=folder_id, action=Action.READ
    )
    limit = max(1, min(limit, MAX_PAGE))
    modified = stamps.MODIFIED_FIELDS[actor.clearance]  # as the actor sees it
    rows = repo.children_page(
        session,
        parent_id=folder.node.id,
        max_classification=int(actor.clearance),
        sort_field={"name": "sort_name", "modified": modified, "size": "size"}[sort],
        descending=descending,
        after=None if cursor is None else decode_cursor(cursor, sort),
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last, sort, actor.clearance)
    shares = shares_repo.shares_on(session, [node.id for node in rows], now=utcnow())
    return folder, Page(items=children_of(folder, rows, shares), next_cursor=next_cursor)


def create_folder(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    parent_id: int,
    name: str,
    classification: Classification | None = None,
) -> Located:
    parent = require_folder(
        session=session, actor=actor, context=context, node_id=parent_id, action=Action.WRITE
    )
    node = insert_node(
        session,
        actor=actor,
        parent=parent,
        name=name,
        kind=FOLDER,
        classification=classification,
    )
    located = relocate(session, node.id)
    repo.touch(
        session,
        repo.path_ids(parent.node.path),
        level=int(located.classification),
        now=node.created_at,
    )
    audit_node(session, context, "folder.create", located, detail={"parent_id": parent_id})
    events.node_created(session, located, actor=actor)
    return located


def find_child(
    *, session: Session, actor: Actor, context: AuditContext, parent_id: int, name: str
) -> Located | None:
    """The live child of that name in a folder the actor may read, or None."""
    parent = require_folder(
        session=session, actor=actor, context=context, node_id=parent_id, action=Action.READ
    )
    child = repo.live_child(session, parent.node.id, normalise_name(name))
    if child is None:
        return None
    return require_node(
        session=session, actor=actor, context=context, node_id=child.id, action=Action.READ
    )


def ensure_folder(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    parent_id: int,
    name: str,
    classification: Classification | None = None,
) -> tuple[Located, bool]:
    """The folder of that name in the parent, made if missing (as ``mkdir -p``, so that uploading
    a folder tree twice merges into the same folders); (folder, created)."""
    parent = require_folder(
        session=session, actor=actor, context=context, node_id=parent_id, action=Action.WRITE
    )
    existing = repo.live_child(session, parent.node.id, normalise_name(name))
    if existing is not None and existing.kind == FOLDER:
        found = require_folder(
            session=session, actor=actor, context=context, node_id=existing.id, action=Action.READ
        )
        return found, False
    return (
        create_folder(
            session=session,
            actor=actor,
            context=context,
            parent_id=parent_id,
            name=name,
            classification=classification,
        ),
        True,
    )


def insert_node(
    session: Session,
    *,
    actor: Actor,
    parent: Located,
    name: str,
    kind: str,
    classification: Classification | None = None,
) -> Node:
    """A new node under ``parent``; Conflict ``name_taken`` if a live sibling has the name."""
    name = normalise_name(name)
    if len(parent.chain) >= MAX_DEPTH:
        raise ValidationFailed(f"folders nest at most {MAX_DEPTH} deep", code="too_deep")
    level = parent.space.classification if classification is None else int(classification)
    check_classification(actor, level)
    now = utcnow()
    node = Node(
        space_id=parent.space.id,
        parent_id=parent.node.id,
        path="",
        kind=kind,
        name=name,
        sort_name=sort_key(name),
        classification=level,
        size=0,
        created_by=actor.user_id,
        created_at=now,
        **stamps.renewed(0, repo.new_etag(), now),
    )
    # The unique index on live names decides (one statement fewer than asking first, and no
    # window between the question and the insert).
    try:
        with session.begin_nested():
            session.add(node)
            session.flush()
    except DbIntegrityError:
        raise Conflict(f"{name!r} already exists in this folder", code="name_taken") from None
    node.path = f"{parent.node.path}{node.id}/"
    session.flush()
    return node


def check_classification(actor: Actor, level: int) -> None:
    if level not in Classification._value2member_map_:
        raise ValidationFailed("unknown classification", code="invalid_classification")
    if level > actor.clearance:
        raise PermissionDenied(
            "you cannot classify above your own clearance", code="classification_above_clearance"
        )


def relocate(session: Session, node_id: int) -> Located:
    located = locate(session, node_id)
    assert located is not None
    return located


def update_node(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    name: str | None = None,
    parent_id: int | None = None,
    if_match: str | None = None,
) -> Located:
    """Rename and/or move a node (its id stays). Moving a folder into itself is refused."""
    located = require_node(
        session=session, actor=actor, context=context, node_id=node_id, action=Action.WRITE
    )
    if located.is_root:
        raise Conflict("the root of a space cannot be renamed or moved", code="is_root")
    check_if_match(located, if_match, actor.clearance)
    node = located.node
    new_name = node.name if name is None else normalise_name(name)
    old_parent_path = repo.path_ids(located.ancestors[-1].path)
    moving = parent_id is not None and parent_id != node.parent_id
    target = located.ancestors[-1]
    detail: dict[str, Any] = {}
    if moving:
        assert parent_id is not None
        require_node(
            session=session, actor=actor, context=context, node_id=node_id, action=Action.DELETE
        )
        destination = require_folder(
            session=session, actor=actor, context=context, node_id=parent_id, action=Action.WRITE
        )
        if node.id in repo.path_ids(destination.node.path):
            raise Conflict("a folder cannot be moved into itself", code="move_into_itself")
        if len(destination.chain) + _depth_below(session, node) >= MAX_DEPTH:
            raise ValidationFailed(f"folders nest at most {MAX_DEPTH} deep", code="too_deep")
        target = destination.node
        detail["from_parent_id"] = node.parent_id
        detail["to_parent_id"] = parent_id
    if new_name != node.name:
        detail["from_name"] = node.name
        detail["to_name"] = new_name
    if not detail:
        return located
    moved = place_node(session, located, target, new_name, old_parent_path=old_parent_path)
    audit_node(session, context, "node.move" if moving else "node.rename", moved, detail=detail)
    if moving:
        # The whole subtree goes with it: its space, and the shares that reach it, may change.
        events.node_changed(
            session,
            events.NODE_MOVED,
            moved,
            actor=actor,
            from_parent_id=detail["from_parent_id"],
            from_space_id=located.space.id,
        )
    if "from_name" in detail:
        events.node_changed(session, events.NODE_RENAMED, moved, actor=actor)
    return moved


def place_node(
    session: Session,
    located: Located,
    target: Node,
    new_name: str,
    *,
    old_parent_path: list[int],
    untrash: bool = False,
) -> Located:
    """Give a node its name and folder (and take it out of the trash when ``untrash``).

    Preconditions: the caller authorised the change (and the move into ``target``) and checked
    that ``target`` is not inside the node. A move never lowers a node's effective
    classification: the node keeps the level it had in its old place.
    """
    node = located.node
    moving = target.id != node.parent_id
    clash = repo.live_child(session, target.id, new_name)
    if clash is not None and clash.id != node.id:
        raise Conflict(f"{new_name!r} already exists in the folder", code="name_taken")
    if moving and target.space_id != node.space_id:
        size = repo.subtree_size(session, node)
        if not repo.reserve_bytes(session, target.space_id, size):
            raise QuotaExceeded("the destination space has no room for this")
        repo.release_bytes(session, node.space_id, size)
    now = utcnow()
    node.name = new_name
    node.sort_name = sort_key(new_name)
    if moving:
        node.classification = int(located.classification)
    if untrash:
        node.trashed_at = None
        node.trashed_by = None
    try:
        with session.begin_nested():
            if moving:
                node.parent_id = target.id
                session.flush()
                repo.move_subtree(session, node, target)
            session.flush()
    except DbIntegrityError:
        raise Conflict(f"{new_name!r} already exists in the folder", code="name_taken") from None
    if moving:
        session.refresh(node)
    placed = relocate(session, node.id)
    # What the old folders lost was seen at the old level; the new ones gain it at the new one.
    old_level, new_level = int(located.classification), int(placed.classification)
    if moving:
        repo.touch(session, old_parent_path, level=old_level, now=now)
        repo.touch(session, repo.path_ids(node.path), level=new_level, now=now)
    else:
        repo.touch(session, repo.path_ids(node.path), level=min(old_level, new_level), now=now)
    return placed


def _depth_below(session: Session, node: Node) -> int:
    if node.kind == FILE:
        return 1
    deepest = max(len(repo.path_ids(n.path)) for n in repo.subtree(session, node))
    return deepest - len(repo.path_ids(node.path)) + 1


def add_version(
    session: Session,
    *,
    actor: Actor,
    blobs: BlobStore,
    located: Located,
    content: ContentRef,
    content_type: str | None,
    restored_from: int | None = None,
    first: bool = False,
) -> FileVersion:
    """Record a new version of a file whose content is stored and whose bytes are reserved.

    Order (DESIGN §5): the chunks are durable already; the manifest is written next; the rows last,
    so a crash leaves at worst an unreferenced manifest, never a row without its bytes.
    """
    node = located.node
    now = utcnow()
    number = 1 if first else repo.next_version_number(session, node.id)
    # The manifest names the version by (node id, number), unique and known before the insert.
    manifest_id = blobs.write_manifest(
        content,
        FileMetadata(
            name=node.name,
            created_at=now,
            path=located.display_path,
            space_id=located.space.id,
            node_id=node.id,
            version_id=f"{node.id}.{number}",
            content_type=content_type,
            classification=located.classification.name.lower(),
            # The parent's id places the file even after its folders are renamed or moved
            # (their placement records say where they went: ``drive.placements``).
            extra={"space": located.space.name, "version": number, "parent_id": node.parent_id},
        ),
    )
    version = FileVersion(
        node_id=node.id,
        number=number,
        size=content.size,
        sha256=content.sha256,
        manifest_id=manifest_id,
        content=content.to_dict(),
        content_type=content_type,
        created_by=actor.user_id,
        created_at=now,
        restored_from=restored_from,
    )
    session.add(version)
    session.flush()
    node.current_version_id = version.id
    node.size = content.size
    node.sha256 = content.sha256
    node.content_type = content_type
    session.flush()
    repo.touch(session, repo.path_ids(node.path), level=int(located.classification), now=now)
    scanning.hold_new_content(session, version=version)
    # Previews, text, the search index and the malware scan follow from this event (consumers).
    events.version_recorded(session, version, located, actor=actor)
    return version


def get_version(session: Session, version_id: int) -> FileVersion:
    """A version by id, for background work on it (not authorised: no caller is acting)."""
    version = session.get(FileVersion, version_id)
    if version is None:
        raise NotFound("version not found")
    return version


def version_place(session: Session, version_id: int) -> tuple[int, int] | None:
    """(node id, space id) of a version, for background work on it; None when it is gone."""
    version = session.get(FileVersion, version_id)
    if version is None:
        return None
    node = repo.get_node(session, version.node_id)
    return None if node is None else (node.id, node.space_id)
