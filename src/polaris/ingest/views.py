"""A file's pages drawn from what ingest derived: its details with a preview (page images, or the
text), the extracted text, the OCR PDF, and the images themselves.

The URLs stay under ``/drive/file/``: to the person these are the file's pages. Each look at a
thumbnail, a page image or the text is authorised like a download and audited as ``file.preview``
through drive's services (``drive.content.find_content``, ``audit_preview``); ingest only says what
has been drawn. The folder listing's thumbnails reach drive's page through ``polaris.web.listing``
(:func:`decorate`), since drive may not import ingest.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from polaris.access.policy import decide_admin
from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.drive import classifying, content, holds, scanning
from polaris.drive.crumbs import crumbs_of
from polaris.drive.schemas import NodeRead, SpaceRead
from polaris.drive.sidebar import sidebar_of
from polaris.ingest import service as ingest
from polaris.ingest import text_service
from polaris.storage.refs import ContentRef
from polaris.web.downloads import content_disposition
from polaris.web.listing import ListingDecorations
from polaris.web.pages import PageCaller, page
from polaris.web.params import Id

router = APIRouter(include_in_schema=False)

#: Plain text up to this size is shown in the page.
MAX_TEXT_BYTES = 512 * 1024
TEXT_TYPES = ("text/plain", "text/csv", "text/markdown")
#: A version's images never change, so a browser may keep them (privately) for a day.
IMAGE_CACHE = "private, max-age=86400, immutable"


def decorate(decorations: ListingDecorations) -> None:
    """Register what ingest adds to drive's folder listing: the thumbnails drawn so far."""
    decorations.add_thumbnails(ingest.with_thumbnails)


@router.get("/drive/file/{node_id}")
def file_page(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    context = caller.context
    text = None
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        located, version = content.find_content(
            session=session, actor=caller.actor, context=context, node_id=node_id, check_scan=False
        )
        # The page is shown while the scan holds the content; the content (previews, text) not.
        scan = scanning.scan_view(session, actor=caller.actor, located=located, version=version)
        # A hold on the file or a folder above it: shown to whoever may read the file.
        held = holds.holds_over(session, located.node)
        # Administrators place a hold from here (``admin.views_retention``), unless one is on it.
        may_hold = decide_admin(caller.actor).allowed and not any(
            hold.node_id == node_id for hold in held
        )
        status = ingest.preview_status(
            session, version_id=version.id, content_type=version.content_type, size=version.size
        )
        if not scan.servable:
            status = ingest.PreviewStatus("none", [])
        elif version.content_type in TEXT_TYPES and version.size <= MAX_TEXT_BYTES:
            data = instance.blobs.read_bytes(ContentRef.from_dict(version.content))
            text = data.decode("utf-8", errors="replace")
            content.audit_preview(session, context, located, version, shown="text")
        node = NodeRead.of(located, caller.actor, version_number=version.number)
        # A shared file's path starts at the share, outside the owner's space (``drive.crumbs``).
        path = crumbs_of(caller.actor, located, include_node=False)
        where = (
            {"shared_page": True}
            if path.shared
            else {"space": SpaceRead.of(located.space, caller.actor)}
        )
        pages = [(r.page, r.width, r.height) for r in status.pages]
        levels = [
            level.name.lower()
            for level in classifying.classification_choices(caller.actor, located)
        ]
    return page(
        request,
        caller,
        "file.html",
        sidebar,
        **where,
        node=node,
        version_id=version.id,
        crumbs=path.items,
        shared_path=path.shared,
        preview=status.state,
        preview_error=status.error,
        pages=pages,
        text=text,
        scan=scan,
        legal_hold=held[-1].reason if held else None,
        may_hold=may_hold,
        levels=levels,
    )


@router.get("/drive/file/{node_id}/text")
def text_page(
    node_id: Id,
    request: Request,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    """The text extracted from the current version (its layer, or OCR) and how it was made."""
    context = caller.context
    with transaction(session):
        sidebar = sidebar_of(session=session, actor=caller.actor, settings=instance.settings)
        located, version = content.find_content(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        status = text_service.text_status(
            session, version.id, content_type=version.content_type, size=version.size
        )
        if status.state == "ready":
            content.audit_preview(session, context, located, version, shown="extracted text")
        node = NodeRead.of(located, caller.actor, version_number=version.number)
        space = SpaceRead.of(located.space, caller.actor)
    return page(
        request,
        caller,
        "file_text.html",
        sidebar,
        space=space,
        node=node,
        version_id=version.id,
        state=status.state,
        found=status.text,
    )


@router.get("/drive/file/{node_id}/ocr-pdf/{version_id}")
def ocr_pdf(
    node_id: Id, version_id: Id, caller: PageCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    """The searchable PDF that OCR made, downloaded (never shown inline)."""
    context = caller.context
    with transaction(session):
        located, version = content.find_content(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            version_id=version_id,
        )
        rendition = text_service.get_ocr_pdf(session, version_id=version.id)
        content.audit_preview(session, context, located, version, shown="ocr pdf")
        data = instance.blobs.read_bytes(ContentRef.from_dict(rendition.content))
        stem = located.node.name.rsplit(".", 1)[0]
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(f"{stem} (OCR).pdf"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/drive/file/{node_id}/preview-status")
def preview_status(node_id: Id, caller: PageCaller, session: DbSession) -> Response:
    """For the page's script, while previews are being drawn: ``pending``, ``ready``..."""
    with transaction(session):
        _, version = content.find_content(
            session=session, actor=caller.actor, context=caller.context, node_id=node_id
        )
        status = ingest.preview_status(
            session, version_id=version.id, content_type=version.content_type, size=version.size
        )
    return JSONResponse({"state": status.state}, headers={"Cache-Control": "no-store"})


@router.get("/drive/file/{node_id}/thumbnail/{version_id}")
def thumbnail(
    node_id: Id, version_id: Id, caller: PageCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    return _image(caller, session, instance, node_id, version_id, ingest.THUMBNAIL, 1)


@router.get("/drive/file/{node_id}/page/{version_id}/{number}")
def page_image(
    node_id: Id,
    version_id: Id,
    number: Id,
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    return _image(caller, session, instance, node_id, version_id, ingest.PAGE, number)


def _image(
    caller: PageCaller,
    session: DbSession,
    instance: CurrentInstance,
    node_id: int,
    version_id: int,
    kind: str,
    number: int,
) -> Response:
    context = caller.context
    with transaction(session):
        located, version = content.find_content(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            version_id=version_id,
        )
        rendition = ingest.get_rendition(session, version_id=version.id, kind=kind, page=number)
        shown = kind if kind == ingest.THUMBNAIL else f"page {number}"
        content.audit_preview(session, context, located, version, shown=shown)
        data = instance.blobs.read_bytes(ContentRef.from_dict(rendition.content))
        media_type = rendition.media_type
    return Response(
        data,
        media_type=media_type,
        headers={"Cache-Control": IMAGE_CACHE, "X-Content-Type-Options": "nosniff"},
    )
