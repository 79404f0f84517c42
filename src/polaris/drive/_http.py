"""HTTP details of file transfer: Range parsing, ETags, reading a request body.

``Content-Disposition`` is in ``polaris.web.downloads``: ingest's pages send files too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from polaris.drive.preconditions import etag_listed
from polaris.errors import PayloadTooLarge, PolarisError
from polaris.storage.writer import ContentWriter

#: Pieces of a request body are handed to the storage thread in batches of this size: one
#: chunk's worth, so that a large upload makes one thread trip a chunk (it made four at 1 MiB).
HANDOFF_BYTES = 4 * 1024 * 1024


class RangeNotSatisfiable(PolarisError):
    code = "range_not_satisfiable"
    status = 416


_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` for a single ``bytes=`` range; None to send everything.

    Several ranges, or a header outside RFC 9110's grammar (ASCII digits only: ``int`` would also
    take ``+1``, ``1_0`` and Devanagari digits), get the whole content, as RFC 9110 allows. A range
    that starts at or beyond the end raises RangeNotSatisfiable; a suffix of empty content is the
    whole (empty) content, since no ``Content-Range`` can describe a part of nothing.
    """
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    unsatisfiable = {"Content-Range": f"bytes */{size}"}
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if size == 0:
            return None
        if suffix == 0:
            raise RangeNotSatisfiable("empty suffix range", headers=unsatisfiable)
        return max(size - suffix, 0), size
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(f"the content has {size} bytes", headers=unsatisfiable)
    end = size if last == "" else min(int(last) + 1, size)
    return start, end


def etag_header(etag: str) -> str:
    return f'"{etag}"'


def etag_matches(header: str | None, etag: str) -> bool:
    return bool(header) and etag_listed(header or "", etag)


async def receive_body(
    request: Request, writer: ContentWriter, *, on_progress: Callable[[], None] | None = None
) -> None:
    """Stream the request body into ``writer``; storage work runs off the event loop.

    Pieces are handed to the writer in batches of ``HANDOFF_BYTES``, as they arrived (no copy
    here). While one batch is hashed and stored in the thread pool the next one is received: at
    most two batches are held. ``on_progress`` runs (in the thread pool) after each batch but the
    last: a resumable upload records the chunks stored so far. ``ContentTooLarge`` (past the
    writer's limit) and Starlette's ``ClientDisconnect`` propagate; on a disconnect what did
    arrive is written first.
    """

    def hand_over(batch: list[bytes], progress: bool) -> None:
        for piece in batch:
            writer.write(piece)
        if progress and on_progress is not None:
            on_progress()

    storing: asyncio.Task[None] | None = None
    batch: list[bytes] = []
    size = 0
    # One chunk's worth a trip (a store of smaller chunks records a resumable upload's progress
    # as often as its chunks are stored).
    handoff = min(HANDOFF_BYTES, writer.chunk_size)
    try:
        # ASGI messages straight from the server, not through ``Request.stream``'s async
        # generator: a gigabyte arrives in some 16,000 pieces of 64 KiB, each a resumption.
        receive = request.receive
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            piece = message.get("body", b"")
            more = message.get("more_body", False)
            if not piece:
                continue
            batch.append(piece)
            size += len(piece)
            if size >= handoff:
                if storing is not None:
                    await storing  # one batch in storage at a time (the writer is not shared)
                storing = asyncio.ensure_future(run_in_threadpool(hand_over, batch, True))
                batch, size = [], 0
    except ClientDisconnect:
        if storing is not None:
            await storing
        if batch:
            await run_in_threadpool(hand_over, batch, False)
        raise
    except BaseException:
        if storing is not None:
            # Its own failure, if any, is not the one to report; it must not go unretrieved.
            storing.add_done_callback(_retrieve)
        raise
    if storing is not None:
        await storing
    if batch:
        await run_in_threadpool(hand_over, batch, False)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


async def read_small_body(request: Request, length: int) -> bytes:
    """The whole body of a request that announced a small ``Content-Length``."""
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > length:
            break
    if len(body) != length:
        raise PayloadTooLarge("the body does not match Content-Length", code="length_mismatch")
    return bytes(body)


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None
