"""Media downloads that go through a room when the media was sent into one of the caller's rooms
(``matrix.room_media``), and the drive's way (``matrix.api_media``) otherwise, with the same
answers.

These routes take the paths of ``matrix.api_media``'s downloads and thumbnails and are registered
before them (``api_rooms`` includes this router).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from polaris.db.uow import transaction
from polaris.deps import DbSession
from polaris.matrix import api_media as media_api
from polaris.matrix import media, room_media
from polaris.matrix.caller import Matrix, MatrixCaller
from polaris.matrix.ids import server_name
from polaris.web.downloads import content_disposition

router = APIRouter(include_in_schema=False)


def _room_download(
    request: Request, caller: MatrixCaller, session: Session, server: str, media_id: str,
    *, thumbnail: bool = False,
) -> Response:  # fmt: skip
    """A media in one of the caller's rooms is authorised by the room (``matrix.room_media``);
    any other goes the drive's way (``matrix.api_media``), with the same answers."""
    instance = request.app.state.instance
    user_db_id = caller.caller.actor.user_id
    key = None
    if server == server_name(instance.settings, request):
        with transaction(session, read_only=True):
            key = room_media.attachment_in_my_rooms(session, user_db_id, media_id)
    if key is None:
        return media_api._download(
            request, caller, instance, session, server, media_id, thumbnail=thumbnail
        )
    with transaction(session):
        found = room_media.open_room_download(
            session, actor=caller.caller.actor, context=caller.caller.context,
            blobs=instance.blobs, sessions=instance.sessions, media_id=media_id, event_key=key,
        )  # fmt: skip
        if thumbnail and not found.content_type.startswith("image/"):
            found.body.close()  # type: ignore[attr-defined]
            raise media.not_found()
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


def _download_route(
    server: str, media_id: str, request: Request, caller: Matrix, session: DbSession
) -> Response:
    return _room_download(request, caller, session, server, media_id)


def _download_named_route(
    server: str, media_id: str, file_name: str, request: Request, caller: Matrix,
    session: DbSession,
) -> Response:  # fmt: skip
    del file_name
    return _room_download(request, caller, session, server, media_id)


def _thumbnail_route(
    server: str, media_id: str, request: Request, caller: Matrix, session: DbSession
) -> Response:
    return _room_download(request, caller, session, server, media_id, thumbnail=True)


for _prefix in (media_api.AUTHENTICATED_MEDIA, *media_api.MEDIA_PREFIXES):
    router.add_api_route(
        _prefix + "/download/{server}/{media_id}", _download_route, methods=["GET"]
    )
    router.add_api_route(
        _prefix + "/download/{server}/{media_id}/{file_name}", _download_named_route,
        methods=["GET"],
    )  # fmt: skip
    router.add_api_route(
        _prefix + "/thumbnail/{server}/{media_id}", _thumbnail_route, methods=["GET"]
    )
