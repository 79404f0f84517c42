"""What must hold before a chunked upload (``dav.chunking``) goes on: the bounds on a user's
uploads in progress, and, at the final MOVE, the destination's locks and ETag.

Chunks are stored as they arrive, before the final MOVE is authorised (the 3.7 style names no
destination until then), so without a bound one account could fill the blob store with chunks
of uploads it never finishes. Per user, among the uploads not finished, abandoned or expired:

- at most ``[dav] max_uploads_in_progress`` upload folders: a further MKCOL is refused;
- at most ``[dav] max_upload_bytes_in_progress`` bytes in their chunks: a chunk that would go
  beyond is refused (and its bytes left to the garbage collector).

Both answer ``507 Insufficient Storage`` with a Problem body (``application/problem+json``,
codes ``uploads_in_progress`` and ``upload_bytes_in_progress``, with the limit): RFC 4918's
status for a server that cannot store what a request needs. Not 429: waiting does not help; the
limit frees as the uploads are finished, abandoned (``DELETE``) or expire after a day.

Locks: the final MOVE writes its destination as a PUT would, so it is refused with ``423
Locked`` (RFC 4918's ``no-conflicting-lock``) while the file, or its folder, is locked by a lock
whose token the request does not carry in its ``If`` header. The check is WsgiDAV's own
(``LockManager.write_transaction`` over the ``dav_lock`` rows, ``dav.locks``), bracketing the
commit as it brackets a PUT, so a LOCK taken meanwhile through this process waits its turn.

The ETag: the file replaced must be the one the client last saw, else 412 and nothing is stored.
The 3.7 clients send ``If-Match`` (or ``OC-If-Destination-Match``); the newer ones an ``If``
header naming the destination with its entity tag (``If: </remote.php/dav/files/u/a.txt>
(["etag"])``, RFC 4918 §10.4), since ``If-Match`` would apply to the ``.file`` moved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from wsgidav import util
from wsgidav.dav_error import DAVError

from polaris.dav.context import DavRequest
from polaris.dav.models import ChunkedUpload, ChunkedUploadPart
from polaris.dav.resources import File, Folder
from polaris.web.problems import PROBLEM_JSON

#: Where the gate leaves WsgiDAV's lock manager for the uploads' handler (``dav.gate``).
LOCKS_KEY = "polaris.dav.locks"
StartResponse = Any


class LimitReached(Exception):
    """A bound of this module was reached: answered as a 507 Problem."""

    def __init__(self, code: str, detail: str, limit: int) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.limit = limit


def answer(start_response: StartResponse, error: LimitReached) -> list[bytes]:
    body = json.dumps(
        {
            "type": f"urn:polaris:error:{error.code}",
            "title": error.code,
            "status": 507,
            "code": error.code,
            "detail": error.detail,
            "limit": error.limit,
        }
    ).encode("utf-8")
    start_response(
        "507 Insufficient Storage",
        [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(body)))],
    )
    return [body]


def check_new_upload(request: DavRequest, now: Any) -> None:
    """Before an upload folder is made: the user's uploads in progress are under the bound."""
    limit = request.instance.settings.dav.max_uploads_in_progress
    count = request.session.scalar(
        select(func.count())
        .select_from(ChunkedUpload)
        .where(ChunkedUpload.user_id == request.actor.user_id, ChunkedUpload.expires_at > now)
    )
    if int(count or 0) >= limit:
        raise LimitReached(
            "uploads_in_progress",
            f"you have {limit} chunked uploads in progress, the most allowed; finish or abandon "
            "one (DELETE its upload folder), or wait until one expires a day after it began",
            limit,
        )


def check_bytes(request: DavRequest, upload_id: int, number: int, adding: int, now: Any) -> None:
    """Before a chunk is recorded: the chunks of the user's uploads, this one replacing any of
    its number, stay under the bound."""
    limit = request.instance.settings.dav.max_upload_bytes_in_progress
    held = request.session.scalar(
        select(func.coalesce(func.sum(ChunkedUploadPart.size), 0))
        .join(ChunkedUpload, ChunkedUpload.id == ChunkedUploadPart.upload_id)
        .where(
            ChunkedUpload.user_id == request.actor.user_id,
            ChunkedUpload.expires_at > now,
            ~((ChunkedUploadPart.upload_id == upload_id) & (ChunkedUploadPart.number == number)),
        )
    )
    if int(held or 0) + adding > limit:
        raise LimitReached(
            "upload_bytes_in_progress",
            f"the chunks of your uploads in progress would hold more than {limit} bytes; finish "
            "or abandon an upload (DELETE its upload folder) first",
            limit,
        )


@contextmanager
def unlocked(
    environ: dict[str, Any], request: DavRequest, existing: File | None, parent: Folder
) -> Iterator[None]:
    """The write of the file (or of a new one in ``parent``) while no lock forbids it; 423
    otherwise. Without a lock manager (none configured) nothing is checked."""
    manager = environ.get(LOCKS_KEY)
    if manager is None:
        yield
        return
    resource = existing if existing is not None else parent
    util.parse_if_header_dict(environ)
    with ExitStack() as stack:
        try:
            stack.enter_context(
                manager.write_transaction(
                    url=resource.get_ref_url(),
                    token_list=environ["wsgidav.ifLockTokenList"],
                    principal=request.username,
                )
            )
        except DAVError as error:
            if error.value == 423:
                error.context_info = "the destination is locked; send its lock token in If"
            raise
        yield


def check_precondition(environ: dict[str, Any], target: str, existing: File | None) -> None:
    """412 unless the file replaced has the ETag the request names (if it names one):
    ``OC-If-Destination-Match``, ``If-Match``, or an ``If`` list on the destination.
    ``target`` is the destination's path (``/remote.php/dav/files/…``), as ``If`` names it."""
    etag = existing.get_etag() if existing is not None else None
    wanted = environ.get("HTTP_OC_IF_DESTINATION_MATCH") or environ.get("HTTP_IF_MATCH")
    if wanted:
        tags = {tag.strip().strip('"') for tag in str(wanted).split(",")}
        if not (("*" in tags and etag is not None) or (etag is not None and etag in tags)):
            raise DAVError(412, context_info="the file changed since (its ETag differs)")
    util.parse_if_header_dict(environ)
    conditions: dict[str, list[list[tuple[bool, str, str]]]] = (
        environ["wsgidav.conditions.if"] or {}
    )
    for resource, lists in conditions.items():
        if resource != "*" and unquote(urlsplit(resource).path).rstrip("/") != target:
            continue  # about another resource
        if not any(_holds(condition, etag) for condition in lists):
            raise DAVError(412, context_info="the file changed since (its ETag differs)")


def _holds(condition: list[tuple[bool, str, str]], etag: str | None) -> bool:
    """One parenthesised list of an ``If`` header: every entity tag in it matches (or, after
    ``Not``, does not). Lock tokens are the lock check's (:func:`unlocked`)."""
    return all(
        (etag is not None and value.strip('"') == etag) == wanted
        for wanted, kind, value in condition
        if kind == "entity"
    )
