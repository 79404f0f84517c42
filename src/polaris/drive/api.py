"""JSON routes of the drive: spaces, folders and nodes, trash, shares, quotas.

Routes are thin: read input, run one service call in a transaction, shape the answer. Content
(upload, download, versions) is in ``polaris.drive.api_content``, tus uploads in ``api_tus``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris.access.policy import Action, Permission
from polaris.db.uow import transaction
from polaris.deps import (
    AdminCaller,
    CurrentCaller,
    CurrentInstance,
    DbSession,
    ReadCaller,
    ReadGated,
    Requester,
)
from polaris.drive import _plain, changes, classifying, copying, service, shares, spaces, trash
from polaris.drive._cursor import SortField
from polaris.drive._locate import Permissions
from polaris.drive.schemas import (
    ChangeFeed,
    FolderCreate,
    NodeCopy,
    NodePage,
    NodeRead,
    NodeRestore,
    NodeUpdate,
    QuotaUpdate,
    ShareCreate,
    SharedNodeRead,
    ShareRead,
    SpaceRead,
    classification_level,
)
from polaris.instance import Instance
from polaris.web.params import Id, Position

router = APIRouter(tags=["drive"])
IfMatch = Annotated[str | None, Header(alias="if-match")]


@router.get("/spaces", response_model=list[SpaceRead])
async def list_spaces(gate: ReadGated, instance: CurrentInstance) -> list[SpaceRead]:
    """The caller's own space, their unit's, and those of units within their reach.

    Read in the caller's snapshot (plain rows: ``drive._plain``); only when one of those spaces
    was never used (it is made on first use) does a write transaction follow, to make it. One
    trip to the thread pool for the caller and the reads (``deps.ReadGate``).
    """
    return await run_in_threadpool(gate.run, _list_spaces, instance)


def _list_spaces(caller: Requester, session: Session, instance: Instance) -> list[SpaceRead]:
    with transaction(session, read_only=True):
        found = _plain.visible_spaces(session, caller.actor)
        if found is not None:
            return [SpaceRead.of(space, caller.actor) for space in found]
    with transaction(session):
        made = spaces.visible_spaces(
            session=session, actor=caller.actor, defaults=spaces.space_defaults(instance.settings)
        )
        return [SpaceRead.of(space, caller.actor) for space in made]


@router.get("/spaces/{space_id}", response_model=SpaceRead)
def get_space(space_id: Id, caller: ReadCaller, session: DbSession) -> SpaceRead:
    with transaction(session, read_only=True):
        return SpaceRead.of(
            spaces.get_space(
                session=session, actor=caller.actor, space_id=space_id, context=caller.context
            ),
            caller.actor,
        )


@router.get("/spaces/{space_id}/trash", response_model=list[NodeRead])
def list_trash(space_id: Id, caller: ReadCaller, session: DbSession) -> list[NodeRead]:
    context = caller.context
    with transaction(session, read_only=True):
        found = trash.list_trash(
            session=session, actor=caller.actor, context=context, space_id=space_id
        )
        seen = Permissions(caller.actor)
        return [NodeRead.of(located, caller.actor, permissions=seen) for located in found]


@router.put("/admin/spaces/{space_id}/quota", response_model=SpaceRead)
def set_quota(
    space_id: Id, body: QuotaUpdate, caller: AdminCaller, session: DbSession
) -> SpaceRead:
    context = caller.context
    with transaction(session):
        space = spaces.set_quota(
            session=session, space_id=space_id, quota_bytes=body.quota_bytes, context=context
        )
        return SpaceRead.of(space, caller.actor)


@router.get("/nodes/{node_id}", response_model=NodeRead)
async def get_node(node_id: Id, gate: ReadGated) -> NodeRead:
    """A node's metadata, read as plain rows (``drive._plain``) in one trip to the thread pool."""
    return await run_in_threadpool(gate.run, _get_node, node_id)


def _get_node(caller: Requester, session: Session, node_id: int) -> NodeRead:
    with transaction(session, read_only=True):
        seen = _plain.require_seen(
            session=session,
            actor=caller.actor,
            context=caller.context,
            node_id=node_id,
            action=Action.READ,
        )
        return NodeRead.of(seen, caller.actor)


@router.get("/nodes/{node_id}/children", response_model=NodePage)
async def list_children(
    node_id: Id,
    gate: ReadGated,
    sort: Literal["name", "modified", "size"] = "name",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
    cursor: str | None = None,
) -> NodePage:
    """One page of a folder, folders first; pass ``next_cursor`` back for the next page."""
    return await run_in_threadpool(gate.run, _list_children, node_id, sort, order, limit, cursor)


def _list_children(
    caller: Requester,
    session: Session,
    node_id: int,
    sort: SortField,
    order: str,
    limit: int,
    cursor: str | None,
) -> NodePage:
    with transaction(session, read_only=True):
        folder, page = service.list_children(
            session=session,
            actor=caller.actor,
            context=caller.context,
            folder_id=node_id,
            sort=sort,
            descending=order == "desc",
            limit=limit,
            cursor=cursor,
        )
        seen = Permissions(caller.actor)
        return NodePage(
            folder=NodeRead.of(folder, caller.actor),
            items=[NodeRead.of(child, caller.actor, permissions=seen) for child in page.items],
            next_cursor=page.next_cursor,
        )


@router.post("/nodes/{node_id}/folders", response_model=NodeRead, status_code=201)
def create_folder(
    node_id: Id,
    body: FolderCreate,
    caller: CurrentCaller,
    session: DbSession,
    response: Response,
) -> NodeRead:
    context = caller.context
    level = classification_level(body.classification) if body.classification else None
    with transaction(session):
        if body.exist_ok:
            located, created = service.ensure_folder(
                session=session,
                actor=caller.actor,
                context=context,
                parent_id=node_id,
                name=body.name,
                classification=level,
            )
            if not created:
                response.status_code = 200
        else:
            located = service.create_folder(
                session=session,
                actor=caller.actor,
                context=context,
                parent_id=node_id,
                name=body.name,
                classification=level,
            )
        return NodeRead.of(located, caller.actor)


@router.patch("/nodes/{node_id}", response_model=NodeRead)
def update_node(
    node_id: Id,
    body: NodeUpdate,
    caller: CurrentCaller,
    session: DbSession,
    if_match: IfMatch = None,
) -> NodeRead:
    """Rename, move and/or reclassify. ``If-Match`` makes it conditional on the node's ETag."""
    context = caller.context
    with transaction(session):
        # A change of level alone needs only ``classify`` (or ``declassify``), not ``write``: a
        # supervisor lowers a level below their unit, where their role writes nothing.
        renames = body.name is not None or body.parent_id is not None
        if renames or body.classification is None:
            located = service.update_node(
                session=session,
                actor=caller.actor,
                context=context,
                node_id=node_id,
                name=body.name,
                parent_id=body.parent_id,
                if_match=if_match,
            )
        if body.classification is not None:
            located = classifying.set_classification(
                session=session,
                actor=caller.actor,
                context=context,
                node_id=node_id,
                classification=classification_level(body.classification),
                if_match=None if renames else if_match,
            )
        return NodeRead.of(located, caller.actor)


@router.post("/nodes/{node_id}/copy", response_model=NodeRead, status_code=201)
def copy_node(
    node_id: Id,
    body: NodeCopy,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> NodeRead:
    """Copy a file or folder tree; no content is duplicated in storage."""
    context = caller.context
    with transaction(session):
        located = copying.copy_node(
            session=session,
            actor=caller.actor,
            context=context,
            blobs=instance.blobs,
            node_id=node_id,
            parent_id=body.parent_id,
            name=body.name,
        )
        return NodeRead.of(located, caller.actor)


@router.delete("/nodes/{node_id}", status_code=204)
def trash_node(
    node_id: Id, caller: CurrentCaller, session: DbSession, if_match: IfMatch = None
) -> Response:
    """Move to the trash (with everything below it)."""
    context = caller.context
    with transaction(session):
        trash.trash_node(
            session=session, actor=caller.actor, context=context, node_id=node_id, if_match=if_match
        )
    return Response(status_code=204)


@router.post("/nodes/{node_id}/restore", response_model=NodeRead)
def restore_node(
    node_id: Id, caller: CurrentCaller, session: DbSession, body: NodeRestore | None = None
) -> NodeRead:
    context = caller.context
    body = body or NodeRestore()
    with transaction(session):
        located = trash.restore_node(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            parent_id=body.parent_id,
            name=body.name,
        )
        return NodeRead.of(located, caller.actor)


@router.delete("/admin/nodes/{node_id}", status_code=204)
def purge_node(node_id: Id, caller: AdminCaller, session: DbSession) -> Response:
    """Delete a node in the trash for good (administrators)."""
    context = caller.context
    with transaction(session):
        trash.purge_node(session=session, actor=caller.actor, context=context, node_id=node_id)
    return Response(status_code=204)


@router.get("/nodes/{node_id}/shares", response_model=list[ShareRead])
def list_node_shares(node_id: Id, caller: ReadCaller, session: DbSession) -> list[ShareRead]:
    context = caller.context
    with transaction(session, read_only=True):
        found = shares.list_node_shares(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        return [ShareRead.of(share) for share in found]


@router.post("/nodes/{node_id}/shares", response_model=ShareRead, status_code=201)
def create_share(
    node_id: Id, body: ShareCreate, caller: CurrentCaller, session: DbSession
) -> ShareRead:
    context = caller.context
    with transaction(session):
        share = shares.create_share(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            subject_type=body.subject_type,
            subject_id=body.subject_id,
            permission=Permission(body.permission),
            include_subunits=body.include_subunits,
            expires_at=body.expires_at,
        )
        return ShareRead.of(share)


@router.delete("/shares/{share_id}", status_code=204)
def revoke_share(share_id: Id, caller: CurrentCaller, session: DbSession) -> Response:
    context = caller.context
    with transaction(session):
        shares.revoke_share(session=session, actor=caller.actor, context=context, share_id=share_id)
    return Response(status_code=204)


@router.get("/shares/with-me", response_model=list[SharedNodeRead])
def shared_with_me(caller: ReadCaller, session: DbSession) -> list[SharedNodeRead]:
    with transaction(session, read_only=True):
        found = shares.shared_with_me(session=session, actor=caller.actor)
        seen = Permissions(caller.actor)
        return [
            SharedNodeRead(
                share=ShareRead.of(s.share),
                node=NodeRead.of(s.located, caller.actor, permissions=seen),
            )
            for s in found
        ]


@router.get("/shares/by-me", response_model=list[SharedNodeRead])
def shared_by_me(caller: ReadCaller, session: DbSession) -> list[SharedNodeRead]:
    with transaction(session, read_only=True):
        found = shares.shared_by_me(session=session, actor=caller.actor)
        seen = Permissions(caller.actor)
        return [
            SharedNodeRead(
                share=ShareRead.of(s.share),
                node=NodeRead.of(s.located, caller.actor, permissions=seen),
            )
            for s in found
        ]


@router.get("/changes", response_model=ChangeFeed)
def list_changes(
    caller: ReadCaller,
    session: DbSession,
    since: Annotated[Position | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=changes.MAX_LIMIT)] = changes.DEFAULT_LIMIT,
) -> ChangeFeed:
    """What changed that you may see, after position ``since`` (``docs/sync.md``).

    Without ``since``: nothing yet, and the position to follow from; list, then follow. 410
    ``changes_expired`` when the changes after ``since`` are no longer kept (list again); 400
    ``invalid_position`` for a position not given out yet.
    """
    with transaction(session, read_only=True):
        page = changes.changes_since(session=session, actor=caller.actor, since=since, limit=limit)
        return ChangeFeed.of(page, caller.actor)
