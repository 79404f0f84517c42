"""Resumable uploads over HTTP: the tus 1.0 protocol (core, creation, termination, expiration).

``POST /api/v1/uploads`` with ``Upload-Length`` and ``Upload-Metadata`` (``filename`` and
``parent_id``, or ``node_id`` for a new version of a file; optionally ``overwrite`` or
``conflict``) creates an upload; ``HEAD`` tells its offset; ``PATCH`` appends from that offset;
``DELETE`` abandons it. The ``PATCH`` that reaches the length answers with ``Polaris-Node-Id``
and the new ``ETag``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from polaris.db.uow import transaction
from polaris.deps import CurrentCaller, CurrentInstance, DbSession
from polaris.drive import uploads
from polaris.drive._http import etag_header, receive_body
from polaris.errors import (
    Conflict,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from polaris.storage.writer import ContentTooLarge
from polaris.web.params import MAX_ID, MAX_INT64

router = APIRouter(tags=["uploads (tus 1.0)"])
TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise PreconditionFailed(
            f"Tus-Resumable: {TUS_VERSION} is required",
            code="tus_version",
            headers={"Tus-Version": TUS_VERSION},
        )


def _int_header(request: Request, name: str) -> int:
    value = request.headers.get(name)
    try:
        number = int(value) if value is not None else -1
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_INT64:
        raise ValidationFailed(f"{name} must be a non-negative 64-bit integer", code="bad_header")
    return number


def parse_metadata(header: str | None) -> dict[str, str]:
    """``key base64,key base64`` → dict; a bad pair is a 422, never silently dropped."""
    result: dict[str, str] = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, encoded = pair.partition(" ")
        try:
            result[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationFailed(f"Upload-Metadata {key!r} is not base64 UTF-8") from None
    return result


def _optional_int(metadata: dict[str, str], key: str) -> int | None:
    if key not in metadata:
        return None
    try:
        number = int(metadata[key])
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_ID:
        raise ValidationFailed(f"Upload-Metadata {key} must be an id")
    return number


@router.options("/uploads", include_in_schema=False)
def options() -> Response:
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
        },
    )


@router.post("/uploads", status_code=201)
def create(
    request: Request, caller: CurrentCaller, session: DbSession, instance: CurrentInstance
) -> Response:
    _check_version(request)
    length = _int_header(request, "upload-length")
    metadata = parse_metadata(request.headers.get("upload-metadata"))
    settings = instance.settings.drive
    context = caller.context
    with transaction(session):
        upload = uploads.create_upload(
            session=session,
            actor=caller.actor,
            context=context,
            length=length,
            max_file_bytes=settings.max_file_bytes,
            expiry=dt.timedelta(hours=settings.upload_expiry_hours),
            parent_id=_optional_int(metadata, "parent_id"),
            name=metadata.get("filename") or metadata.get("name"),
            node_id=_optional_int(metadata, "node_id"),
            overwrite=metadata.get("overwrite", "").lower() in {"1", "true", "yes"}
            or metadata.get("conflict") == "replace",
            if_match=metadata.get("if_match"),
            keep_both=metadata.get("conflict") == "rename",
        )
        upload_id, expires, chosen = upload.id, upload.expires_at, upload.name
    headers = _tus_headers(
        Location=f"{request.url.path.rstrip('/')}/{upload_id}",
        **{
            "Upload-Offset": "0",
            "Upload-Expires": format_datetime(expires, usegmt=True),
            # The name the file will have (another with ``conflict=rename``), percent-encoded.
            "Polaris-Name": quote(chosen, safe=""),
        },
    )
    if length == 0:
        return _finish(caller, session, instance, upload_id, headers, status=201)
    return Response(status_code=201, headers=headers)


@router.head("/uploads/{upload_id}")
def head(upload_id: str, request: Request, caller: CurrentCaller, session: DbSession) -> Response:
    _check_version(request)
    with transaction(session):
        upload = uploads.get_upload(
            session=session, actor=caller.actor, context=caller.context, upload_id=upload_id
        )
        headers = _tus_headers(
            **{
                "Upload-Offset": str(upload.offset),
                "Upload-Length": str(upload.length),
                "Upload-Expires": format_datetime(upload.expires_at, usegmt=True),
            }
        )
    return Response(status_code=200, headers=headers)


@router.delete("/uploads/{upload_id}", status_code=204)
def terminate(
    upload_id: str, request: Request, caller: CurrentCaller, session: DbSession
) -> Response:
    _check_version(request)
    context = caller.context
    with transaction(session):
        uploads.terminate_upload(
            session=session, actor=caller.actor, context=context, upload_id=upload_id
        )
    return Response(status_code=204, headers=_tus_headers())


@router.patch("/uploads/{upload_id}", status_code=204)
async def append(
    upload_id: str,
    request: Request,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> Response:
    """Append the body at ``Upload-Offset``; progress is durable chunk by chunk."""
    _check_version(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(f"PATCH needs Content-Type: {OFFSET_CONTENT_TYPE}")
    offset = _int_header(request, "upload-offset")

    def begin() -> tuple[int, Any]:
        with transaction(session):
            upload = uploads.get_upload(
                session=session, actor=caller.actor, context=caller.context, upload_id=upload_id
            )
            if upload.offset != offset:
                raise Conflict(
                    f"the upload is at offset {upload.offset}",
                    code="offset_mismatch",
                    headers={"Upload-Offset": str(upload.offset)},
                )
            return upload.length, uploads.running_hash(upload)

    length, digest = await run_in_threadpool(begin)
    hash_known = digest is not None
    writer = instance.blobs.writer(
        limit=length - offset, digest=digest if digest is not None else hashlib.sha256()
    )
    state = {"offset": offset, "saved": 0}

    def save(final: bool) -> None:
        chunks = writer.flush() if final else writer.stored_chunks
        new = list(chunks[state["saved"] :])
        if not new and not final:
            return
        with transaction(session):
            upload = uploads.get_upload(
                session=session, actor=caller.actor, context=caller.context, upload_id=upload_id
            )
            state["offset"] = uploads.record_progress(
                session=session,
                upload=upload,
                from_offset=state["offset"],
                chunks=new,
                digest=writer.digest if final and hash_known else None,
            )
        state["saved"] = len(chunks)

    try:
        await receive_body(request, writer, on_progress=lambda: save(False))
    except ClientDisconnect:
        # Keep what arrived: the client resumes from the offset HEAD will tell.
        await run_in_threadpool(save, True)
        raise
    except ContentTooLarge:
        await run_in_threadpool(save, False)
        raise PayloadTooLarge(
            "the body goes beyond Upload-Length", code="upload_length_exceeded"
        ) from None
    await run_in_threadpool(save, True)
    headers = _tus_headers(**{"Upload-Offset": str(state["offset"])})
    if state["offset"] < length:
        return Response(status_code=204, headers=headers)
    return await run_in_threadpool(_finish, caller, session, instance, upload_id, headers, 204)


def _finish(
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
    upload_id: str,
    headers: dict[str, str],
    status: int,
) -> Response:
    context = caller.context
    with transaction(session):
        upload = uploads.get_upload(
            session=session, actor=caller.actor, context=caller.context, upload_id=upload_id
        )
        located, version = uploads.complete_upload(
            session=session,
            actor=caller.actor,
            context=context,
            blobs=instance.blobs,
            upload=upload,
        )
        headers = {
            **headers,
            "Polaris-Node-Id": str(located.node.id),
            "ETag": etag_header(located.node.etag),
            "Polaris-Version": str(version.number),
        }
    return Response(status_code=status, headers=headers)
