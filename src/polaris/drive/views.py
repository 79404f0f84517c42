"""Drive pages: the spaces sidebar and a folder's contents, rendered on the server.

They call the same services as ``drive.api``: visibility, classification and audit are decided
there, never here.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import content, repo, service, spaces, trash
from polaris.drive._locate import children_of
from polaris.drive.api import space_defaults
from polaris.drive.schemas import NodeRead, SpaceRead, VersionRead
from polaris.identity.actors import actor_context
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)


def _sidebar(caller: PageCaller, session: DbSession, instance: CurrentInstance) -> list[SpaceRead]:
    found = spaces.visible_spaces(
        session=session, actor=caller.actor, defaults=space_defaults(instance)
    )
    return [SpaceRead.of(space) for space in found]


@router.get("/")
def home(caller: PageCaller, session: DbSession, instance: CurrentInstance) -> Response:
    """Straight to the person's own space."""
    with transaction(session):
        own = _sidebar(caller, session, instance)[0]
    return RedirectResponse(f"/drive/{own.root_id}", status_code=303)


@router.get("/drive/{node_id}")
def folder(
    node_id: int,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    sort: Literal["name", "modified", "size"] = "name",
    order: Literal["asc", "desc"] = "asc",
    cursor: str | None = None,
) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        located, page = service.list_children(
            session=session,
            actor=caller.actor,
            context=context,
            folder_id=node_id,
            sort=sort,
            descending=order == "desc",
            limit=200,
            cursor=cursor,
        )
        child_shares = repo.shares_on(session, [n.id for n in page.items])
        items = [
            NodeRead.of(child, caller.actor)
            for child in children_of(located, page.items, child_shares)
        ]
        # A personal space's root is "My files" to its owner, not their username.
        personal = located.space.kind == "user"
        crumbs = [
            (node.id, None if personal and node.parent_id is None else node.name)
            for node in located.chain
        ]
        current = NodeRead.of(located, caller.actor)
        space = SpaceRead.of(located.space)
    token, _ = form_csrf(request)
    return render(
        request,
        "folder.html",
        csrf=token,
        user=caller.user,
        spaces=sidebar,
        space=space,
        folder=current,
        crumbs=crumbs,
        items=items,
        next_cursor=page.next_cursor,
        sort=sort,
        order=order,
    )


def _back_to(node_parent_id: int | None, fallback: str = "/") -> RedirectResponse:
    return RedirectResponse(
        f"/drive/{node_parent_id}" if node_parent_id else fallback, status_code=303
    )


@router.post("/drive/{node_id}/folders")
def create_folder(
    node_id: int, caller: PageCaller, session: DbSession, name: str = Form("")
) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        service.create_folder(
            session=session, actor=caller.actor, context=context, parent_id=node_id, name=name
        )
    return _back_to(node_id)


@router.post("/drive/node/{node_id}/rename")
def rename(node_id: int, caller: PageCaller, session: DbSession, name: str = Form("")) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        located = service.update_node(
            session=session, actor=caller.actor, context=context, node_id=node_id, name=name
        )
        parent_id = located.node.parent_id
    return _back_to(parent_id)


@router.post("/drive/node/{node_id}/delete")
def delete(node_id: int, caller: PageCaller, session: DbSession) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        located = trash.trash_node(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        parent_id = located.node.parent_id
    return _back_to(parent_id)


@router.get("/trash/{space_id}")
def trash_page(
    space_id: int,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        found = trash.list_trash(
            session=session, actor=caller.actor, context=context, space_id=space_id
        )
        items = [NodeRead.of(located, caller.actor) for located in found]
        space = SpaceRead.of(
            spaces.get_space(session=session, actor=caller.actor, space_id=space_id)
        )
    token, _ = form_csrf(request)
    return render(
        request,
        "trash.html",
        csrf=token,
        user=caller.user,
        spaces=sidebar,
        space=space,
        items=items,
    )


@router.post("/drive/node/{node_id}/restore")
def restore(node_id: int, caller: PageCaller, session: DbSession) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        located = trash.restore_node(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        parent_id = located.node.parent_id
    return _back_to(parent_id)


@router.get("/drive/file/{node_id}/versions")
def versions_page(
    node_id: int,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        located, versions = content.list_versions(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        node = NodeRead.of(located, caller.actor)
        space = SpaceRead.of(located.space)
        rows = [VersionRead.of(version) for version in reversed(versions)]
        current_id = located.node.current_version_id
    token, _ = form_csrf(request)
    return render(
        request,
        "versions.html",
        csrf=token,
        user=caller.user,
        spaces=sidebar,
        space=space,
        node=node,
        versions=rows,
        current_id=current_id,
    )


@router.post("/drive/file/{node_id}/versions/{version_id}/restore")
def restore_version(
    node_id: int,
    version_id: int,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    context = actor_context(caller.actor, caller.request)
    with transaction(session):
        content.restore_version(
            session=session,
            actor=caller.actor,
            context=context,
            blobs=instance.blobs,
            node_id=node_id,
            version_id=version_id,
        )
    return RedirectResponse(f"/drive/file/{node_id}/versions", status_code=303)
