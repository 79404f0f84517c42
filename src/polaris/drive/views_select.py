"""Acting on several files and folders at once: move, copy, delete, download as a ZIP.

The folder page's checkboxes post here. Move and copy then ask where to, on a page that browses
folders; the whole selection moves (or is copied) in one transaction, so either every item lands
or none does.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import copying, service, trash
from polaris.drive.api_zip import zip_response
from polaris.drive.schemas import NodeRead, SpaceRead
from polaris.drive.sidebar import sidebar_of
from polaris.errors import Conflict, PermissionDenied, QuotaExceeded, ValidationFailed
from polaris.web.messages import N_, error_message
from polaris.web.pages import PageCaller, page
from polaris.web.params import MAX_ID, Id

router = APIRouter(include_in_schema=False)

MAX_SELECTION = 500
NOTHING_SELECTED = N_("Select at least one file or folder first.")


def _pick_url(action: str, ids: list[int], at: int, back: int) -> str:
    query = urlencode({"action": action, "ids": ",".join(map(str, ids)), "at": at, "back": back})
    return f"/destination?{query}"


def parse_ids(value: str) -> list[int]:
    """Node ids from "1,2,3" (what is not an id is dropped; at most ``MAX_SELECTION``)."""
    digits = (part.strip() for part in value.split(","))
    ids = [int(part) for part in digits if part.isdigit() and 1 <= int(part) <= MAX_ID]
    return list(dict.fromkeys(ids))[:MAX_SELECTION]


@router.post("/drive/{folder_id}/selection")
def act_on_selection(
    folder_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    action: Literal["move", "copy", "delete", "zip"] = Form(...),
    ids: list[Id] = Form(default_factory=list),
) -> Response:
    chosen = list(dict.fromkeys(ids))[:MAX_SELECTION]
    if not chosen:
        return RedirectResponse(f"/drive/{folder_id}?notice=nothing-selected", status_code=303)
    if action == "delete":
        context = caller.context
        with transaction(session):
            for node_id in chosen:
                trash.trash_node(
                    session=session, actor=caller.actor, context=context, node_id=node_id
                )
        # The folder then offers to undo (the nodes are in the trash, not gone).
        deleted = ",".join(map(str, chosen))
        return RedirectResponse(f"/drive/{folder_id}?deleted={deleted}", status_code=303)
    if action == "zip":
        return zip_response(request, caller, session, instance, chosen)
    return RedirectResponse(_pick_url(action, chosen, folder_id, folder_id), status_code=303)


def _render_pick(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    *,
    action: str,
    ids: list[int],
    at: int,
    back: int,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = caller.context
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        chosen = [
            NodeRead.of(
                service.get_node(session=session, actor=caller.actor, context=context, node_id=i),
                caller.actor,
            )
            for i in ids
        ]
        located, listing = service.list_children(
            session=session,
            actor=caller.actor,
            context=context,
            folder_id=at,
            sort="name",
            descending=False,
            limit=500,
            cursor=None,
        )
        folders = [
            NodeRead.of(child, caller.actor)
            for child in listing.items
            if child.node.kind == "folder" and child.node.id not in ids
        ]
        here = NodeRead.of(located, caller.actor)
        personal = located.space.kind == "user"
        crumbs = [
            (node.id, None if personal and node.parent_id is None else node.name)
            for node in located.chain
        ]
        space = SpaceRead.of(located.space, caller.actor)
    response = page(
        request,
        caller,
        "pick.html",
        sidebar,
        space=space,
        action=action,
        chosen=chosen,
        ids=",".join(map(str, ids)),
        here=here,
        crumbs=crumbs,
        folders=folders,
        back=back,
        pick_url=lambda target: _pick_url(action, ids, target, back),
        error=error,
    )
    response.status_code = status_code
    return response


@router.get("/destination")
def pick_page(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    action: Literal["move", "copy"] = Query(...),
    ids: str = Query(...),
    at: Id = Query(...),
    back: Id = Query(...),
) -> Response:
    """Browse to the folder to move or copy the selection into."""
    return _render_pick(
        request, caller, session, instance, action=action, ids=parse_ids(ids), at=at, back=back
    )


@router.post("/destination")
def move_or_copy_here(
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    action: Literal["move", "copy"] = Form(...),
    ids: str = Form(...),
    target: Id = Form(...),
    back: Id = Form(...),
) -> Response:
    chosen = parse_ids(ids)
    context = caller.context
    try:
        with transaction(session):
            for node_id in chosen:
                if action == "move":
                    service.update_node(
                        session=session,
                        actor=caller.actor,
                        context=context,
                        node_id=node_id,
                        parent_id=target,
                    )
                else:
                    copying.copy_node(
                        session=session,
                        actor=caller.actor,
                        context=context,
                        blobs=instance.blobs,
                        node_id=node_id,
                        parent_id=target,
                    )
    except (Conflict, ValidationFailed, PermissionDenied, QuotaExceeded) as refused:
        return _render_pick(
            request,
            caller,
            session,
            instance,
            action=action,
            ids=chosen,
            at=target,
            back=back,
            error=error_message(refused.code),
            status_code=422,
        )
    return RedirectResponse(f"/drive/{target}", status_code=303)
