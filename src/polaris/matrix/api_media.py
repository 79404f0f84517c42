"""Matrix media routes: uploads become drive files, downloads are drive reads
(``matrix.media``; docs/matrix.md).

The upload is ``async``: its body streams to storage, each write in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris.db.uow import transaction
from polaris.deps import CurrentInstance, DbSession
from polaris.instance import Instance
from polaris.matrix import media
from polaris.matrix.caller import Matrix, MatrixCaller
from polaris.matrix.ids import server_name
from polaris.storage.writer import ContentTooLarge
from polaris.web.downloads import content_disposition
from polaris.web.i18n import pick_language, translations
from polaris.web.matrix_errors import MatrixError

router = APIRouter(include_in_schema=False)

MEDIA_PREFIXES = ("/_matrix/media/v3", "/_matrix/media/r0")
AUTHENTICATED_MEDIA = "/_matrix/client/v1/media"
#: Bytes handed to the storage writer at a time while an upload streams in.
HANDOFF_BYTES = 1024 * 1024


def _media_config(instance: Instance) -> dict[str, int]:
    settings = instance.settings
    return {"m.upload.size": min(settings.matrix.max_upload_bytes, settings.drive.max_file_bytes)}


@router.get(AUTHENTICATED_MEDIA + "/config")
@router.get(MEDIA_PREFIXES[0] + "/config")
@router.get(MEDIA_PREFIXES[1] + "/config")
def media_config(caller: Matrix, instance: CurrentInstance) -> dict[str, Any]:
    del caller
    return _media_config(instance)


@router.post(MEDIA_PREFIXES[0] + "/upload")
@router.post(MEDIA_PREFIXES[1] + "/upload")
async def upload(
    request: Request,
    caller: Matrix,
    instance: CurrentInstance,
    session: DbSession,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> JSONResponse:
    """Store the body as a drive file in the uploader's "Chat attachments" folder."""
    limit = _media_config(instance)["m.upload.size"]
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise MatrixError(413, "M_TOO_LARGE", f"a file is at most {limit} bytes")
    writer = instance.blobs.writer(limit=limit)
    batch: list[bytes] = []
    held = 0

    def hand_over(pieces: list[bytes]) -> None:
        for piece in pieces:
            writer.write(piece)

    try:
        async for piece in request.stream():
            batch.append(piece)
            held += len(piece)
            if held >= HANDOFF_BYTES:
                await run_in_threadpool(hand_over, batch)
                batch, held = [], 0
        await run_in_threadpool(hand_over, batch)
    except ContentTooLarge:
        raise MatrixError(413, "M_TOO_LARGE", f"a file is at most {limit} bytes") from None
    stored = await run_in_threadpool(writer.finish)
    folder = translations(pick_language(request)).gettext(media.FOLDER)
    server = server_name(instance.settings, request)

    def commit() -> str:
        with transaction(session):
            row = media.store_upload(
                session,
                actor=caller.caller.actor,
                user_id=caller.caller.actor.user_id,
                context=caller.caller.context,
                settings=instance.settings,
                blobs=instance.blobs,
                body=stored,
                file_name=filename,
                declared_type=request.headers.get("content-type"),
                folder_name=folder,
            )
            return row.media_id

    media_id = await run_in_threadpool(commit)
    return JSONResponse({"content_uri": f"mxc://{server}/{media_id}"})


def _download(
    request: Request, caller: MatrixCaller, instance: Instance, session: Session, server: str,
    media_id: str, *, thumbnail: bool = False,
) -> Response:  # fmt: skip
    if server != server_name(instance.settings, request):
        # Another server's media: asked for like a missing id (same answer, same audit).
        media_id = f"{server}/{media_id}"
    with transaction(session):
        found = media.open_download(
            session,
            actor=caller.caller.actor,
            context=caller.caller.context,
            blobs=instance.blobs,
            sessions=instance.sessions,
            media_id=media_id,
            images_only=thumbnail,
        )
    headers = {
        "Content-Length": str(found.size),
        "Content-Disposition": content_disposition(found.name),
        "Cache-Control": "private, no-cache",
        "Content-Security-Policy": "sandbox; default-src 'none'; script-src 'none'; "
        "plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; "
        "object-src 'self';",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{found.etag}"',
    }
    return StreamingResponse(found.body, media_type=found.content_type, headers=headers)


for _prefix in (AUTHENTICATED_MEDIA, *MEDIA_PREFIXES):
    for _tail in ("/download/{server}/{media_id}", "/download/{server}/{media_id}/{file_name}"):

        def download(
            server: str, media_id: str, request: Request, caller: Matrix,
            instance: CurrentInstance, session: DbSession,
        ) -> Response:  # fmt: skip
            return _download(request, caller, instance, session, server, media_id)

        router.add_api_route(_prefix + _tail, download, methods=["GET"])

    def thumbnail(
        server: str, media_id: str, request: Request, caller: Matrix,
        instance: CurrentInstance, session: DbSession,
    ) -> Response:  # fmt: skip
        return _download(request, caller, instance, session, server, media_id, thumbnail=True)

    router.add_api_route(_prefix + "/thumbnail/{server}/{media_id}", thumbnail, methods=["GET"])
