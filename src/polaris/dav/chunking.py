"""Nextcloud chunked uploads (v2), under ``/remote.php/dav/uploads/{username}/``: how the
Nextcloud clients send a large file in pieces, and resume after a break.

1. ``MKCOL …/uploads/{user}/{transfer}``: an upload folder. Since client 3.10 it carries the
   file's ``Destination`` and ``OC-Total-Length``: the upload is then checked at once as a plain
   one would be (the right to write there, the name, the quota, ``max_file_bytes``), audited
   when refused.
2. ``PUT …/{transfer}/{chunk}``: each chunk, stored as it arrives, encrypted, in the blob store
   (``ContentWriter``: a few MiB in memory whatever its size) and recorded. Chunk names are
   numbers: byte offsets in the 3.7 style, 1 to 10000 in the >= 3.10 style (which also sends
   ``Destination`` with every request: it must name the same file).
3. ``PROPFIND …/{transfer}`` (``Depth: 1``) lists the chunks stored, to resume.
4. ``MOVE …/{transfer}/.file`` with the file's ``Destination`` (and ``OC-Total-Length``,
   ``OC-Checksum``, ``X-OC-Mtime``): the chunks, in the order of their numbers, become the
   file's new content through the drive's own upload service (``content.commit_upload``: access,
   quota, the malware scan, audit as ``file.create`` or ``file.write``). They are read once, a
   chunk at a time, to compute the SHA-256 (and to check ``OC-Checksum``): memory stays constant
   and nothing is copied. A checksum or length that does not match answers 400 and stores
   nothing. The answer carries ``OC-ETag``, ``OC-FileId`` and ``X-OC-MTime``.
5. ``DELETE …/{transfer}`` abandons an upload. Uploads left for a day are removed when the next
   one starts; chunks no longer recorded are the garbage collector's.

Only the upload's owner sees it: another user's name in the path answers 404.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from xml.sax.saxutils import escape

from sqlalchemy import delete, func, select
from wsgidav.dav_error import DAVError, get_http_status_string

from polaris.clock import utcnow
from polaris.dav import checksums, nextcloud, upload_guards
from polaris.dav.context import DavRequest
from polaris.dav.context import of as request_of
from polaris.dav.errors import translated
from polaris.dav.models import ChunkedUpload, ChunkedUploadPart
from polaris.dav.provider import PolarisProvider
from polaris.dav.resources import File, Folder
from polaris.db.uow import transaction
from polaris.drive import content, stamps
from polaris.drive.names import normalise_name
from polaris.storage.refs import ChunkRef, ContentRef
from polaris.storage.writer import ContentTooLarge

PREFIX = "/remote.php/dav/uploads"
FILES_PREFIX = "/remote.php/dav/files"
#: How long an upload folder is kept without being finished.
EXPIRY = dt.timedelta(days=1)
#: Chunk numbers of the >= 3.10 style (Nextcloud's own limits).
FIRST_CHUNK, LAST_CHUNK = 1, 10000
TRANSFER_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
CHUNK_NAME = re.compile(r"[0-9]{1,16}")
READ_BLOCK = 256 * 1024
StartResponse = Any
_FILES = PolarisProvider(per_user=True)


def handle(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI app of every path under :data:`PREFIX` (authenticated by ``dav.gate``)."""
    # The files' resources (``dav.resources``) find their provider here, as under WsgiDAV.
    environ["wsgidav.provider"] = _FILES
    try:
        return _dispatch(environ, start_response, request_of(environ))
    except upload_guards.LimitReached as reached:
        return upload_guards.answer(start_response, reached)
    except DAVError as error:
        if error.err_condition is not None:  # an RFC 4918 precondition (a lock), as XML
            content_type, body = error.get_response_page()
            start_response(
                get_http_status_string(error),
                [("Content-Type", content_type), ("Content-Length", str(len(body)))],
            )
            return [body]
        return _plain(start_response, error.value, error.context_info or "")


def _dispatch(
    environ: dict[str, Any], start_response: StartResponse, request: DavRequest
) -> Iterable[bytes]:
    method = str(environ.get("REQUEST_METHOD", "")).upper()
    names = [unquote(part) for part in environ["PATH_INFO"][len(PREFIX) :].split("/") if part]
    if not names or names[0] != request.username:
        raise DAVError(404, context_info="not found")
    if len(names) == 1:
        if method == "PROPFIND":
            return _multistatus(start_response, environ["PATH_INFO"], [])
        raise DAVError(405, context_info="make an upload folder below this one")
    transfer = names[1]
    if not TRANSFER_NAME.fullmatch(transfer) or len(names) > 3:
        raise DAVError(404, context_info="not found")
    if len(names) == 2:
        if method == "MKCOL":
            _create(environ, request, transfer)
            return _plain(start_response, 201, "")
        upload = _find(request, transfer)
        if method == "PROPFIND":
            return _list(environ, start_response, request, upload)
        if method == "DELETE":
            _remove(request, upload)
            return _plain(start_response, 204, "")
        raise DAVError(405, context_info=f"{method} is not answered on an upload folder")
    upload = _find(request, transfer)
    if names[2] == ".file":
        if method != "MOVE":
            raise DAVError(405, context_info="MOVE .file to its Destination to finish the upload")
        return _assemble(environ, start_response, request, upload)
    if method != "PUT":
        raise DAVError(405, context_info=f"{method} is not answered on a chunk")
    _store_chunk(environ, request, upload, names[2])
    return _plain(start_response, 201, "")


def _plain(start_response: StartResponse, status: int, text: str) -> list[bytes]:
    body = (text + "\n").encode("utf-8") if text else b""
    reason = {
        201: "Created",
        204: "No Content",
        400: "Bad Request",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        412: "Precondition Failed",
        413: "Payload Too Large",
        423: "Locked",
    }.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _total_length(environ: dict[str, Any]) -> int | None:
    raw = str(environ.get("HTTP_OC_TOTAL_LENGTH", "")).strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise DAVError(400, context_info="OC-Total-Length is a number of bytes")
    return int(raw)


def _destination_path(environ: dict[str, Any], request: DavRequest) -> str | None:
    """The path below ``/remote.php/dav/files`` that ``Destination`` names, None without one."""
    raw = str(environ.get("HTTP_DESTINATION", "")).strip()
    if not raw:
        return None
    path = unquote(urlsplit(raw).path)
    if not path.startswith(FILES_PREFIX + "/"):
        raise DAVError(400, context_info=f"the Destination must be under {FILES_PREFIX}/")
    rest = path[len(FILES_PREFIX) :]
    if not rest.startswith(f"/{request.username}/"):
        raise DAVError(404, context_info="not found")
    return rest.rstrip("/")


def _target(environ: dict[str, Any], path: str) -> tuple[File | None, Folder, str]:
    """The file a destination names (None if new), its folder and its name."""
    parent_path, _, name = path.rpartition("/")
    parent = _FILES.get_resource_inst(parent_path or "/", environ)
    if not isinstance(parent, Folder):
        raise DAVError(409, context_info="the destination's folder is not a folder you can use")
    with translated():
        name = normalise_name(name)
    found = _FILES.get_resource_inst(path, environ)
    if isinstance(found, Folder):
        raise DAVError(409, context_info="the destination is a folder")
    return (found if isinstance(found, File) else None), parent, name


def _check_target(
    environ: dict[str, Any], request: DavRequest, path: str, size: int | None
) -> None:
    existing, parent, name = _target(environ, path)
    target: dict[str, Any] = (
        {"node_id": existing.node_id}
        if existing is not None
        else {"parent_id": parent.node_id, "name": name}
    )
    with translated(), transaction(request.session):
        content.prepare_upload(
            session=request.session,
            actor=request.actor,
            context=request.context,
            size=size,
            max_file_bytes=request.instance.settings.drive.max_file_bytes,
            overwrite=True,
            **target,
        )


def _create(environ: dict[str, Any], request: DavRequest, transfer: str) -> None:
    destination = _destination_path(environ, request)
    total = _total_length(environ)
    if destination is not None:
        _check_target(environ, request, destination, total)
    now = utcnow()
    session = request.session
    with transaction(session):
        session.execute(delete(ChunkedUpload).where(ChunkedUpload.expires_at <= now))
        upload_guards.check_new_upload(request, now)
        taken = session.scalar(
            select(ChunkedUpload.id).where(
                ChunkedUpload.user_id == request.actor.user_id, ChunkedUpload.name == transfer
            )
        )
        if taken is not None:
            raise DAVError(405, context_info="this upload folder exists already")
        session.add(
            ChunkedUpload(
                user_id=request.actor.user_id,
                name=transfer,
                destination=destination,
                total_length=total,
                created_at=now,
                expires_at=now + EXPIRY,
            )
        )


def _find(request: DavRequest, transfer: str) -> ChunkedUpload:
    with transaction(request.session, read_only=True):
        upload = request.session.scalar(
            select(ChunkedUpload).where(
                ChunkedUpload.user_id == request.actor.user_id,
                ChunkedUpload.name == transfer,
                ChunkedUpload.expires_at > utcnow(),
            )
        )
    if upload is None:
        raise DAVError(404, context_info="no such upload folder")
    return upload


def _parts(request: DavRequest, upload: ChunkedUpload) -> list[ChunkedUploadPart]:
    with transaction(request.session, read_only=True):
        return list(
            request.session.scalars(
                select(ChunkedUploadPart)
                .where(ChunkedUploadPart.upload_id == upload.id)
                .order_by(ChunkedUploadPart.number)
            )
        )


def _remove(request: DavRequest, upload: ChunkedUpload) -> None:
    with transaction(request.session):
        request.session.execute(
            delete(ChunkedUploadPart).where(ChunkedUploadPart.upload_id == upload.id)
        )
        request.session.execute(delete(ChunkedUpload).where(ChunkedUpload.id == upload.id))


def _store_chunk(
    environ: dict[str, Any], request: DavRequest, upload: ChunkedUpload, name: str
) -> None:
    if not CHUNK_NAME.fullmatch(name):
        raise DAVError(400, context_info="a chunk's name is its number")
    number = int(name)
    destination = _destination_path(environ, request)
    if upload.destination is not None:
        if not FIRST_CHUNK <= number <= LAST_CHUNK:
            raise DAVError(
                400, context_info=f"chunks are numbered from {FIRST_CHUNK} to {LAST_CHUNK}"
            )
        if destination is not None and destination != upload.destination:
            raise DAVError(400, context_info="the Destination differs from the upload's")
    limit = request.instance.settings.drive.max_file_bytes
    if upload.total_length is not None:
        limit = min(limit, upload.total_length)
    length_header = str(environ.get("CONTENT_LENGTH") or "")
    length = int(length_header) if length_header.isdigit() else None
    if length is not None and length > limit:
        raise DAVError(413, context_info=f"a chunk is at most {limit} bytes here")
    if length is not None:  # refused before its bytes are stored, when its length is told
        with transaction(request.session, read_only=True):
            upload_guards.check_bytes(request, upload.id, number, length, utcnow())
    stream = environ["wsgi.input"]
    writer = request.instance.blobs.writer(limit=limit)
    left = length
    try:
        while left is None or left > 0:
            block = stream.read(READ_BLOCK if left is None else min(READ_BLOCK, left))
            if not block:
                break
            writer.write(block)
            if left is not None:
                left -= len(block)
        if left:
            raise DAVError(400, context_info="the body ended before its Content-Length")
        with translated():
            stored = writer.finish()
    except ContentTooLarge as exc:
        writer.abort()
        raise DAVError(413, context_info=f"a chunk is at most {exc.limit} bytes here") from None
    except BaseException:
        writer.abort()
        raise
    with transaction(request.session):
        others = request.session.scalar(
            select(func.coalesce(func.sum(ChunkedUploadPart.size), 0)).where(
                ChunkedUploadPart.upload_id == upload.id, ChunkedUploadPart.number != number
            )
        )
        if int(others or 0) + stored.size > limit:
            # The whole upload, not only this chunk, is bounded (its chunks are left to gc).
            raise DAVError(413, context_info=f"the chunks of an upload hold at most {limit} bytes")
        upload_guards.check_bytes(request, upload.id, number, stored.size, utcnow())
        request.session.execute(
            delete(ChunkedUploadPart).where(
                ChunkedUploadPart.upload_id == upload.id, ChunkedUploadPart.number == number
            )
        )
        request.session.add(
            ChunkedUploadPart(
                upload_id=upload.id,
                number=number,
                name=name,
                size=stored.size,
                content=stored.to_dict(),
            )
        )


def _list(
    environ: dict[str, Any], start_response: StartResponse, request: DavRequest, upload: Any
) -> list[bytes]:
    parts = [] if environ.get("HTTP_DEPTH", "1") == "0" else _parts(request, upload)
    return _multistatus(start_response, environ["PATH_INFO"], parts)


def _multistatus(
    start_response: StartResponse, folder: str, parts: list[ChunkedUploadPart]
) -> list[bytes]:
    base = quote(folder.rstrip("/"))
    entries = [
        f"<d:response><d:href>{escape(base)}/</d:href><d:propstat><d:prop>"
        "<d:resourcetype><d:collection/></d:resourcetype></d:prop>"
        "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    ]
    for part in parts:
        etag = hashlib.sha256(str(part.content).encode()).hexdigest()[:32]
        entries.append(
            f"<d:response><d:href>{escape(base)}/{escape(part.name)}</d:href><d:propstat><d:prop>"
            f"<d:resourcetype/><d:getcontentlength>{part.size}</d:getcontentlength>"
            f'<d:getetag>"{etag}"</d:getetag></d:prop>'
            "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
        )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
        + "".join(entries)
        + "</d:multistatus>\n"
    ).encode("utf-8")
    start_response(
        "207 Multi-Status",
        [("Content-Type", "application/xml; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _assemble(
    environ: dict[str, Any], start_response: StartResponse, request: DavRequest, upload: Any
) -> list[bytes]:
    destination = _destination_path(environ, request)
    if destination is None:
        raise DAVError(400, context_info="MOVE .file needs the file's Destination")
    if upload.destination is not None and destination != upload.destination:
        raise DAVError(400, context_info="the Destination differs from the upload's")
    parts = _parts(request, upload)
    size = sum(part.size for part in parts)
    for announced in (_total_length(environ), upload.total_length):
        if announced is not None and announced != size:
            raise DAVError(
                400,
                context_info=(
                    f"length_mismatch: the chunks hold {size} bytes, OC-Total-Length says "
                    f"{announced}; nothing was stored"
                ),
            )
    chunks = tuple(chunk for part in parts for chunk in ContentRef.from_dict(part.content).chunks)
    digests = checksums.Digests()
    stored = ContentRef(chunks=chunks, size=size, sha256=_hash(request, environ, chunks, digests))
    existing, parent, name = _target(environ, destination)
    upload_guards.check_precondition(environ, FILES_PREFIX + destination, existing)
    mtime = nextcloud.mtime_from(environ)
    target: dict[str, Any] = (
        {"node_id": existing.node_id}
        if existing is not None
        else {"parent_id": parent.node_id, "name": name}
    )
    session = request.session
    with (
        upload_guards.unlocked(environ, request, existing, parent),
        translated(),
        transaction(session),
    ):
        located, version, created = content.commit_upload(
            session=session,
            actor=request.actor,
            context=request.context,
            blobs=request.instance.blobs,
            content=stored,
            overwrite=True,
            **target,
        )
        digests.record(session, version.id)
        if mtime is not None:
            stamps.set_client_mtime(located.node, mtime)
        session.execute(delete(ChunkedUploadPart).where(ChunkedUploadPart.upload_id == upload.id))
        session.execute(delete(ChunkedUpload).where(ChunkedUpload.id == upload.id))
    request.changed()
    etag = stamps.etag_seen(located.node, request.actor.clearance)
    headers = [
        ("ETag", f'"{etag}"'),
        *nextcloud.upload_headers(located.node.id, etag, mtime_accepted=mtime is not None),
        ("Content-Length", "0"),
    ]
    start_response("201 Created" if created else "204 No Content", headers)
    return []


def _hash(
    request: DavRequest,
    environ: dict[str, Any],
    chunks: tuple[ChunkRef, ...],
    digests: checksums.Digests,
) -> str:
    """The SHA-256 of the whole content, read a chunk at a time, and ``OC-Checksum`` checked."""
    expected = checksums.expected(environ)
    digest = hashlib.sha256()
    blobs = request.instance.blobs
    for chunk in chunks:
        with translated():
            data = blobs.read_chunk(chunk.chunk_id, expected_size=chunk.size)
        digest.update(data)
        digests.update(data)
        if expected is not None:
            expected.update(data)
    if expected is not None:
        expected.check()
    return digest.hexdigest()
