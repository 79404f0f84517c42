"""JSON and byte routes for file content: upload, overwrite, download, versions.

Uploads are ``async`` so that the body streams through with constant memory; every database step
and every storage write runs in the thread pool (STYLE rule 6). Downloads are ``async`` too and
do their caller, checks and audit record in one trip to the thread pool (``deps.ReadGate``);
Starlette iterates their synchronous body in the thread pool.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from polaris.db.uow import transaction
from polaris.deps import (
    CurrentCaller,
    CurrentInstance,
    DbSession,
    ReadCaller,
    ReadGated,
    Requester,
)
from polaris.drive import content, reads
from polaris.drive._http import (
    declared_length,
    etag_header,
    etag_matches,
    parse_range,
    read_small_body,
    receive_body,
)
from polaris.drive.schemas import NodeRead, VersionRead
from polaris.errors import PayloadTooLarge
from polaris.instance import Instance
from polaris.storage.refs import ContentRef
from polaris.storage.writer import ContentTooLarge
from polaris.web.downloads import content_disposition
from polaris.web.params import Id

router = APIRouter(tags=["files"])
#: Bodies up to this size take the one-transaction path (see ``_upload``).
SMALL_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class UploadParams:
    parent_id: int | None
    name: str | None
    node_id: int | None
    overwrite: bool
    if_match: str | None
    keep_both: bool = False

    def as_kwargs(self) -> dict[str, Any]:
        return asdict(self)


def _upload_headers(node: NodeRead) -> dict[str, str]:
    assert node.sha256 is not None
    digest = base64.b64encode(bytes.fromhex(node.sha256)).decode()
    return {"ETag": etag_header(node.etag), "Repr-Digest": f"sha-256=:{digest}:"}


async def _upload(
    request: Request,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
    *,
    parent_id: int | None,
    name: str | None,
    node_id: int | None,
    overwrite: bool,
    if_match: str | None,
    keep_both: bool = False,
) -> JSONResponse:
    context = caller.context
    limit = instance.settings.drive.max_file_bytes
    length = declared_length(request)
    target = UploadParams(
        parent_id=parent_id,
        name=name,
        node_id=node_id,
        overwrite=overwrite,
        if_match=if_match,
        keep_both=keep_both,
    )

    def prepare() -> None:
        with transaction(session, read_only=True):
            content.prepare_upload(
                session=session,
                actor=caller.actor,
                context=context,
                size=length,
                max_file_bytes=limit,
                **target.as_kwargs(),
            )

    def commit(body: ContentRef) -> tuple[NodeRead, bool]:
        """Record the stored content in a write transaction shared with the uploads that reach
        this point together (``polaris.db.group_commit``); returns once it is committed."""

        def record(write: Session) -> tuple[NodeRead, bool]:
            located, version, created = content.commit_upload(
                session=write,
                actor=caller.actor,
                context=context,
                blobs=instance.blobs,
                content=body,
                **target.as_kwargs(),
            )
            return NodeRead.of(located, caller.actor, version_number=version.number), created

        return instance.upload_commits.run(record)

    if length is not None and length <= min(SMALL_BODY_BYTES, limit):
        # A small body is read into memory first; then one trip to the thread pool checks the
        # upload in the caller's read-only snapshot, stores the bytes (sealed, fsynced) outside
        # any transaction, so uploads store side by side, and records them in a write
        # transaction that holds SQLite's writer lock only for the manifest and the rows.
        data = await read_small_body(request, length)

        def store_small() -> tuple[NodeRead, bool]:
            prepare()
            return commit(instance.blobs.put_bytes(data))

        node, created = await run_in_threadpool(store_small)
    else:
        await run_in_threadpool(prepare)
        writer = instance.blobs.writer(limit=limit)
        try:
            await receive_body(request, writer)
        except ContentTooLarge as exc:
            raise PayloadTooLarge(
                f"a file is at most {exc.limit} bytes", code="file_too_large"
            ) from None
        if length is not None and writer.size != length:
            raise PayloadTooLarge("the body does not match Content-Length", code="length_mismatch")
        body = await run_in_threadpool(writer.finish)
        node, created = await run_in_threadpool(commit, body)
    return JSONResponse(
        node.model_dump(mode="json"),
        status_code=201 if created else 200,
        headers=_upload_headers(node),
    )


@router.post(
    "/files",
    response_model=NodeRead,
    status_code=201,
    responses={200: {"model": NodeRead, "description": "A new version of an existing file"}},
)
async def upload_file(
    request: Request,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
    parent_id: Id,
    name: str,
    overwrite: bool = False,
    conflict: Literal["fail", "replace", "rename"] = "fail",
    if_match: Annotated[str | None, Header(alias="if-match")] = None,
) -> JSONResponse:
    """Upload the request body as file ``name`` in folder ``parent_id``.

    A name in use is a 409 ``name_taken`` unless ``overwrite=true`` (or ``conflict=replace``),
    which adds a version (and then ``If-Match`` guards against overwriting someone else's
    change: 412), or ``conflict=rename``, which keeps both: the new file is "name (2).ext", the
    first number free.
    """
    return await _upload(
        request,
        caller,
        session,
        instance,
        parent_id=parent_id,
        name=name,
        node_id=None,
        overwrite=overwrite or conflict == "replace",
        if_match=if_match,
        keep_both=conflict == "rename",
    )


@router.put("/files/{node_id}/content", response_model=NodeRead)
async def put_content(
    node_id: Id,
    request: Request,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
    if_match: Annotated[str | None, Header(alias="if-match")] = None,
) -> JSONResponse:
    """Upload a new version of file ``node_id``; a stale ``If-Match`` is refused with 412."""
    return await _upload(
        request,
        caller,
        session,
        instance,
        parent_id=None,
        name=None,
        node_id=node_id,
        overwrite=True,
        if_match=if_match,
    )


def _download(
    caller: Requester,
    session: Session,
    request: Request,
    instance: Instance,
    node_id: int,
    version_id: int | None,
) -> Response:
    """Authorise and check in the caller's read-only snapshot (no lock: downloads run side by
    side), then record the read, in one write transaction with the records of concurrent reads
    (``instance.audit_commits``, ``polaris.db.group_commit``); a byte leaves only once that
    record is committed."""
    context = caller.context
    with transaction(session, read_only=True):
        located, version = content.find_content(
            session=session,
            actor=caller.actor,
            context=context,
            node_id=node_id,
            version_id=version_id,
        )
        etag = content.content_etag(located, version)
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers={"ETag": etag_header(etag)})
        byte_range = parse_range(request.headers.get("range"), version.size)
        checked = reads.check_read(
            session=session,
            context=context,
            blobs=instance.blobs,
            sessions=instance.sessions,
            located=located,
            version=version,
            byte_range=byte_range,
        )
        size = version.size
        name = located.node.name
        media_type = version.content_type or "application/octet-stream"
    try:
        checked.audit(instance.audit_commits)
    except BaseException:
        checked.close()
        raise
    headers = {
        "ETag": etag_header(etag),
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(name),
        "Cache-Control": "private, no-cache",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
    }
    start, end = byte_range if byte_range is not None else (0, size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    whole = checked.whole()
    if whole is not None:
        return Response(whole, status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(
        checked.stream(), status_code=status, media_type=media_type, headers=headers
    )


@router.get("/files/{node_id}/content", response_class=StreamingResponse)
async def download(
    node_id: Id, request: Request, gate: ReadGated, instance: CurrentInstance
) -> Response:
    """The current content; ``Range`` (one range), ``If-None-Match`` (304) are honoured.

    One trip to the thread pool for the caller (read in Core: ``deps.ReadGate``), the checks and
    the audit record."""
    return await run_in_threadpool(gate.run, _download, request, instance, node_id, None)


@router.get("/files/{node_id}/versions", response_model=list[VersionRead])
def list_versions(node_id: Id, caller: ReadCaller, session: DbSession) -> list[VersionRead]:
    context = caller.context
    with transaction(session, read_only=True):
        _, versions = content.list_versions(
            session=session, actor=caller.actor, context=context, node_id=node_id
        )
        return [VersionRead.of(version) for version in reversed(versions)]


@router.get("/files/{node_id}/versions/{version_id}/content", response_class=StreamingResponse)
async def download_version(
    node_id: Id, version_id: Id, request: Request, gate: ReadGated, instance: CurrentInstance
) -> Response:
    return await run_in_threadpool(gate.run, _download, request, instance, node_id, version_id)


@router.post("/files/{node_id}/versions/{version_id}/restore", response_model=NodeRead)
def restore_version(
    node_id: Id,
    version_id: Id,
    caller: CurrentCaller,
    session: DbSession,
    instance: CurrentInstance,
) -> NodeRead:
    """Make an old version the current one (as a new version; nothing is rewritten)."""
    context = caller.context
    with transaction(session):
        located, version = content.restore_version(
            session=session,
            actor=caller.actor,
            context=context,
            blobs=instance.blobs,
            node_id=node_id,
            version_id=version_id,
        )
        return NodeRead.of(located, caller.actor, version_number=version.number)
