"""Drive pages: the spaces sidebar and a folder's contents, rendered on the server.

They call the same services as ``drive.api``: visibility, classification and audit are decided
there, never here. A listing's thumbnails are ingest's: the folder page asks the app's listing
decorations (``polaris.web.listing``), which ingest fills, so that drive does not import ingest.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.db.uow import transaction
from polaris.deps import Caller, CurrentInstance, DbSession
from polaris.drive import (
    classifying,
    content,
    name_help,
    repo,
    service,
    spaces,
    trash,
    views_select,
    views_shares,
)
from polaris.drive._locate import Located, Permissions
from polaris.drive.crumbs import crumbs_of
from polaris.drive.filetypes import icon_for
from polaris.drive.schemas import NodeRead, SpaceRead, VersionRead
from polaris.drive.sidebar import sidebar_of
from polaris.drive.views_select import NOTHING_SELECTED
from polaris.errors import Conflict, ValidationFailed
from polaris.instance import Instance
from polaris.web.listing import Decorations, ListingDecorations
from polaris.web.messages import ERROR_MESSAGES, N_, upload_messages
from polaris.web.pages import PageCaller, page
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)

#: The folder page's list or grid, remembered in this browser (a year) once chosen by ``?view=``.
VIEW_COOKIE = "polaris_folder_view"

CONFIRM_PURGE = N_("Tick the box to confirm: deleting for good cannot be undone.")


def back_to(node_parent_id: int | None, fallback: str = "/") -> RedirectResponse:
    return RedirectResponse(
        f"/drive/{node_parent_id}" if node_parent_id else fallback, status_code=303
    )


#: Texts of the folder page's script (js/folder.js), translated into the page's JSON data block:
#: a refused move says why, by the API's error code (``generic`` for the rest).
MOVE_ERROR_CODES = ("not_found", "permission_denied", "name_taken", "too_deep", "legal_hold")


def folder_messages() -> dict[str, str]:
    found = {code: ERROR_MESSAGES[code] for code in MOVE_ERROR_CODES if code in ERROR_MESSAGES}
    return {
        "generic": N_("This could not be moved."),
        "moved": N_("Moved %(name)s to %(folder)s."),
        "refused": N_("%(name)s was not moved: %(reason)s"),
        "move_into_itself": N_("A folder cannot be moved into itself."),
        **found,
    }


@router.get("/")
def home(caller: PageCaller, session: DbSession, instance: CurrentInstance) -> Response:
    """Straight to the person's own space."""
    with transaction(session):
        own = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)[0]
    return RedirectResponse(f"/drive/{own.root_id}", status_code=303)


@router.get("/drive/{node_id}")
def folder(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    decorations: Decorations,
    sort: Literal["name", "modified", "size"] = "name",
    order: Literal["asc", "desc"] = "asc",
    cursor: str | None = None,
    notice: Literal["nothing-selected"] | None = None,
    deleted: str | None = None,
    view: Literal["list", "grid"] | None = None,
    rename: int | None = None,
) -> Response:
    """A folder's rows (or tiles: ``view=grid``, then remembered by a cookie, so that the toggle
    works without a script); ``rename`` opens that row's rename form without a script."""
    return _folder_page(
        node_id,
        request,
        caller,
        session,
        instance,
        decorations,
        sort,
        order,
        cursor,
        notice,
        deleted,
        view=view,
        rename=rename,
    )


def _folder_page(
    node_id: int,
    request: Request,
    caller: Caller,
    session: Session,
    instance: Instance,
    decorations: ListingDecorations,
    sort: Literal["name", "modified", "size"] = "name",
    order: Literal["asc", "desc"] = "asc",
    cursor: str | None = None,
    notice: str | None = None,
    deleted: str | None = None,
    new_folder: dict[str, str | None] | None = None,
    view: Literal["list", "grid"] | None = None,
    rename: int | None = None,
    renamed: dict[str, str | None] | None = None,
) -> Response:
    """The folder page; ``new_folder`` is the new-folder form given back: what was typed, why it
    was refused, and a name to offer instead. ``renamed`` is the same for the rename form of row
    ``rename``."""
    context = caller.context
    shown = view or ("grid" if request.cookies.get(VIEW_COOKIE) == "grid" else "list")
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        # Just deleted from this page: offered back ("undo") while still in the trash.
        undo = [
            (gone.node.id, gone.node.name)
            for gone in trash.restorable(
                session=session, actor=caller.actor, ids=views_select.parse_ids(deleted or "")
            )
        ]
        located, listing = service.list_children(
            session=session,
            actor=caller.actor,
            context=context,
            folder_id=node_id,
            sort=sort,
            descending=order == "desc",
            limit=200,
            cursor=cursor,
        )
        # Each row's actions, decided once per distinct space, level and shares (``Permissions``):
        # the page offers only those, and the selection bar's Move and Delete only if any row
        # may be deleted.
        seen = Permissions(caller.actor)
        items = [NodeRead.of(child, caller.actor, permissions=seen) for child in listing.items]
        versions = {
            child.node.id: child.node.current_version_id
            for child in listing.items
            if child.node.current_version_id is not None
        }
        drawn = decorations.with_thumbnails(session, list(versions.values()))
        thumbnails = {node: version for node, version in versions.items() if version in drawn}
        # A personal space's root is "My files" to its owner, not their username; a shared
        # folder's path starts at the share (``drive.crumbs``).
        path = crumbs_of(caller.actor, located)
        current = NodeRead.of(located, caller.actor)
        # Someone in a folder through a share is not in the owner's space (nor its trash).
        where = (
            {"shared_page": True}
            if path.shared
            else {"space": SpaceRead.of(located.space, caller.actor)}
        )
        may_delete = any("delete" in item.permissions for item in items)
        icons = {item.id: icon_for(item.kind, item.name, item.content_type) for item in items}
    response = page(
        request,
        caller,
        "folder.html",
        sidebar,
        **where,
        folder=current,
        crumbs=path.items,
        shared_path=path.shared,
        may_delete=may_delete,
        items=items,
        next_cursor=listing.next_cursor,
        thumbnails=thumbnails,
        upload_messages=upload_messages(),
        folder_messages=folder_messages(),
        notice=NOTHING_SELECTED if notice else None,
        sort=sort,
        order=order,
        icons=icons,
        view=shown,
        renaming=rename,
        undo=undo,
        new_folder=new_folder or {},
        renamed=renamed or {},
        status_code=422 if new_folder or renamed else 200,
    )
    if view is not None:
        response.set_cookie(
            VIEW_COOKIE,
            view,
            max_age=365 * 24 * 3600,
            httponly=True,
            secure=instance.settings.session.cookie_secure,
            samesite="lax",
            path="/drive",
        )
    return response


@router.post("/drive/{node_id}/folders")
def create_folder(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    decorations: Decorations,
    name: str = Form(""),
) -> Response:
    """Make a folder; a refused name gives the form back with what was typed, the reason and,
    where there is one, a name to use instead (``drive.name_help``)."""
    context = caller.context
    try:
        with transaction(session):
            service.create_folder(
                session=session, actor=caller.actor, context=context, parent_id=node_id, name=name
            )
    except (ValidationFailed, Conflict) as refused:
        if not refused.code.startswith("name_"):
            raise
        told = name_help.explain(name, refused.code)
        form = {"typed": name, "reason": told.reason, "suggestion": told.suggestion}
        return _folder_page(
            node_id, request, caller, session, instance, decorations, new_folder=form
        )
    return back_to(node_id)


@router.post("/drive/node/{node_id}/rename")
def rename(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    decorations: Decorations,
    name: str = Form(""),
) -> Response:
    """Rename a row; a refused name gives the folder page back with that row's form open, what
    was typed, the reason and a name to use instead, as the new-folder form does."""
    context = caller.context
    try:
        with transaction(session):
            located = service.update_node(
                session=session, actor=caller.actor, context=context, node_id=node_id, name=name
            )
            parent_id = located.node.parent_id
    except (ValidationFailed, Conflict) as refused:
        if not refused.code.startswith("name_"):
            raise
        # Refused for its name only: the node was found and may be written, so its folder can
        # be shown (a hidden or missing node raised NotFound before any name was looked at).
        with transaction(session):
            parent = service.get_node(
                session=session, actor=caller.actor, context=context, node_id=node_id
            ).node.parent_id
        if parent is None:
            raise
        told = name_help.explain(name, refused.code)
        form = {"typed": name, "reason": told.reason, "suggestion": told.suggestion}
        return _folder_page(
            parent,
            request,
            caller,
            session,
            instance,
            decorations,
            rename=node_id,
            renamed=form,
        )
    return back_to(parent_id)


@router.post("/drive/node/{node_id}/delete")
def delete(node_id: Id, caller: PageCaller, session: DbSession) -> Response:
    context = caller.context
    with transaction(session):
        located = trash.trash_node(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        parent_id = located.node.parent_id
    # Back to the folder, which offers to undo: the node is in the trash, not gone.
    return RedirectResponse(f"/drive/{parent_id}?deleted={node_id}", status_code=303)


@router.post("/drive/{folder_id}/undo-delete")
def undo_delete(
    folder_id: Id, caller: PageCaller, session: DbSession, ids: str = Form("")
) -> Response:
    """Put back from the trash what the last delete on this folder's page moved there."""
    context = caller.context
    with transaction(session):
        for node_id in views_select.parse_ids(ids):
            trash.restore_node(
                session=session, actor=caller.actor, context=context, node_id=node_id
            )
    return RedirectResponse(f"/drive/{folder_id}", status_code=303)


@router.post("/drive/node/{node_id}/classify")
def classify(
    node_id: Id, caller: PageCaller, session: DbSession, classification: str = Form("")
) -> Response:
    """The file page's classification form; ``classifying.set_classification`` decides (the form
    offers only ``classifying.classification_choices``)."""
    try:
        level = Classification[classification.upper()]
    except KeyError:
        raise ValidationFailed("unknown classification", code="invalid_classification") from None
    context = caller.context
    with transaction(session):
        classifying.set_classification(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            classification=level,
        )
    return RedirectResponse(f"/drive/file/{node_id}", status_code=303)


@router.post("/drive/node/{node_id}/purge")
def purge(
    node_id: Id,
    caller: PageCaller,
    session: DbSession,
    space_id: int = Form(0),
    confirm: str = Form(""),
) -> Response:
    """Delete for good from the trash page (administrators; ``trash.purge_node`` decides and
    audits). Only with the confirmation box ticked."""
    back = f"/trash/{space_id}" if space_id > 0 else "/"
    if confirm != "yes":
        return RedirectResponse(f"{back}?notice=confirm-purge", status_code=303)
    context = caller.context
    with transaction(session):
        trash.purge_node(session=session, actor=caller.actor, context=context, node_id=node_id)
    return RedirectResponse(back, status_code=303)


@router.get("/trash/{space_id}")
def trash_page(
    space_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    notice: Literal["confirm-purge"] | None = None,
) -> Response:
    context = caller.context
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        found = trash.list_trash(
            session=session, actor=caller.actor, context=context, space_id=space_id
        )
        items = [NodeRead.of(located, caller.actor) for located in found]
        # Where each was: the folder it was deleted from (restore puts it back there).
        origins = {located.node.id: (located.node.parent_id, _place(located)) for located in found}
        space = SpaceRead.of(
            spaces.get_space(
                session=session, actor=caller.actor, space_id=space_id, context=context
            ),
            caller.actor,
        )
    return page(
        request,
        caller,
        "trash.html",
        sidebar,
        space=space,
        items=items,
        origins=origins,
        may_purge=caller.actor.is_admin,
        notice=CONFIRM_PURGE if notice else None,
    )


def _place(located: Located) -> str:
    """The folder path a trashed node was in, as the person sees it ("/" for the space's top)."""
    names = [node.name for node in located.chain[1:-1]]
    return "/" + "/".join(names)


@router.post("/drive/node/{node_id}/restore")
def restore(node_id: Id, caller: PageCaller, session: DbSession) -> Response:
    context = caller.context
    with transaction(session):
        located = trash.restore_node(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        parent_id = located.node.parent_id
    return back_to(parent_id)


@router.get("/drive/file/{node_id}/versions")
def versions_page(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    context = caller.context
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        located, versions = content.list_versions(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        node = NodeRead.of(located, caller.actor)
        space = SpaceRead.of(located.space, caller.actor)
        rows = [VersionRead.of(version) for version in reversed(versions)]
        savers = repo.user_names(session, [v.created_by for v in versions if v.created_by])
        current_id = located.node.current_version_id
    return page(
        request,
        caller,
        "versions.html",
        sidebar,
        space=space,
        node=node,
        versions=rows,
        savers=savers,
        current_id=current_id,
    )


@router.post("/drive/file/{node_id}/versions/{version_id}/restore")
def restore_version(
    node_id: Id,
    version_id: Id,
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


# The other drive pages live in modules of their own; this router serves them all. A file's page
# and its previews are ingest's (``polaris.ingest.views``).
for _sub in (views_shares.router, views_select.router):
    router.include_router(_sub)
