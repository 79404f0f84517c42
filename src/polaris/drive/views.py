"""Drive pages: the spaces sidebar and a folder's contents, rendered on the server.

They call the same services as ``drive.api``: visibility, classification and audit are decided
there, never here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from polaris.access.policy import Permission
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import content, service, shares, spaces, trash
from polaris.drive.api import space_defaults
from polaris.drive.schemas import NodeRead, ShareRead, SpaceRead, VersionRead
from polaris.identity import units, users
from polaris.identity.models import Unit, User, UserGroup
from polaris.web.pages import PageCaller, form_csrf
from polaris.web.templating import render

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    caller: PageCaller,
    template: str,
    sidebar: list[SpaceRead],
    **context: Any,
) -> Response:
    """Render a signed-in page: the CSRF token for its forms, the person and the spaces."""
    token, _ = form_csrf(request)
    return render(request, template, csrf=token, user=caller.user, spaces=sidebar, **context)


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
    context = caller.context
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
        items = [NodeRead.of(child, caller.actor) for child in page.items]
        # A personal space's root is "My files" to its owner, not their username.
        personal = located.space.kind == "user"
        crumbs = [
            (node.id, None if personal and node.parent_id is None else node.name)
            for node in located.chain
        ]
        current = NodeRead.of(located, caller.actor)
        space = SpaceRead.of(located.space)
    return _page(
        request,
        caller,
        "folder.html",
        sidebar,
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
    context = caller.context
    with transaction(session):
        service.create_folder(
            session=session, actor=caller.actor, context=context, parent_id=node_id, name=name
        )
    return _back_to(node_id)


@router.post("/drive/node/{node_id}/rename")
def rename(node_id: int, caller: PageCaller, session: DbSession, name: str = Form("")) -> Response:
    context = caller.context
    with transaction(session):
        located = service.update_node(
            session=session, actor=caller.actor, context=context, node_id=node_id, name=name
        )
        parent_id = located.node.parent_id
    return _back_to(parent_id)


@router.post("/drive/node/{node_id}/delete")
def delete(node_id: int, caller: PageCaller, session: DbSession) -> Response:
    context = caller.context
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
    context = caller.context
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        found = trash.list_trash(
            session=session, actor=caller.actor, context=context, space_id=space_id
        )
        items = [NodeRead.of(located, caller.actor) for located in found]
        space = SpaceRead.of(
            spaces.get_space(session=session, actor=caller.actor, space_id=space_id)
        )
    return _page(
        request,
        caller,
        "trash.html",
        sidebar,
        space=space,
        items=items,
    )


@router.post("/drive/node/{node_id}/restore")
def restore(node_id: int, caller: PageCaller, session: DbSession) -> Response:
    context = caller.context
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
    context = caller.context
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        located, versions = content.list_versions(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        node = NodeRead.of(located, caller.actor)
        space = SpaceRead.of(located.space)
        rows = [VersionRead.of(version) for version in reversed(versions)]
        current_id = located.node.current_version_id
    return _page(
        request,
        caller,
        "versions.html",
        sidebar,
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
    context = caller.context
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


@router.get("/drive/node/{node_id}/shares")
def shares_page(
    node_id: int,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    context = caller.context
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        located = service.get_node(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        current = shares.list_node_shares(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        rows = [
            (ShareRead.of(share), _subject_label(session, share.subject_type, share.subject_id))
            for share in current
        ]
        node = NodeRead.of(located, caller.actor)
        space = SpaceRead.of(located.space)
    return _page(
        request,
        caller,
        "shares.html",
        sidebar,
        space=space,
        node=node,
        shares=rows,
    )


def _subject_label(session: DbSession, subject_type: str, subject_id: int) -> str:
    model = {"user": User, "unit": Unit, "group": UserGroup}[subject_type]
    found = session.get(model, subject_id)
    if found is None:
        return "?"
    return str(getattr(found, "username", None) or getattr(found, "name", "?"))


@router.post("/drive/node/{node_id}/shares")
def create_share(
    node_id: int,
    caller: PageCaller,
    session: DbSession,
    subject_type: Literal["user", "unit"] = Form("user"),
    subject: str = Form(""),
    permission: Literal["read", "edit", "manage"] = Form("read"),
    include_subunits: bool = Form(False),
    expires_on: dt.date | None = Form(None),
) -> Response:
    """Share with a user (by username) or a unit (by code); an expiry date ends it at midnight
    UTC at the end of that day."""
    context = caller.context
    expires_at = (
        dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        if expires_on
        else None
    )
    with transaction(session):
        if subject_type == "user":
            subject_id = users.get_by_username(session=session, username=subject.strip()).id
        else:
            subject_id = units.get_by_code(session=session, code=subject.strip()).id
        shares.create_share(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            subject_type=subject_type,
            subject_id=subject_id,
            permission=Permission(permission),
            include_subunits=include_subunits,
            expires_at=expires_at,
        )
    return RedirectResponse(f"/drive/node/{node_id}/shares", status_code=303)


@router.post("/drive/share/{share_id}/revoke")
def revoke_share(
    share_id: int, caller: PageCaller, session: DbSession, node_id: int = Form(0)
) -> Response:
    context = caller.context
    with transaction(session):
        shares.revoke_share(session=session, actor=caller.actor, context=context, share_id=share_id)
    return RedirectResponse(f"/drive/node/{node_id}/shares", status_code=303)


@router.get("/shared")
def shared_with_me_page(
    request: Request, caller: PageCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    with transaction(session):
        sidebar = _sidebar(caller, session, instance)
        found = shares.shared_with_me(session=session, actor=caller.actor)
        items = [NodeRead.of(s.located, caller.actor) for s in found]
    return _page(request, caller, "shared.html", sidebar, items=items)
