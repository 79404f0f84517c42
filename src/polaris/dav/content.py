"""A file's bytes over WebDAV: GET through ``drive.reads`` (checked, audited as ``file.read``),
PUT through ``drive.content`` (authorised before the body is stored, recorded after).

WsgiDAV reads a GET's content through a file object and a PUT's body into one. The reader opens
the drive's read at its first ``read``, after WsgiDAV's ``seek`` to a range's start: WsgiDAV has
not started the response then (``ErrorPrinter`` holds it until the first bytes), so a refusal
(held by the malware scan, damaged content) is still a clean error status. A PUT body up to
1 MiB with a ``Content-Length`` is kept in memory, checked once it is all there, stored, and
recorded, as the API does; a larger or unannounced one streams through a ``ContentWriter`` (a few
chunks in memory at a time) between a checking transaction and a recording one. Both are checked
in read-only transactions and recorded through the group commit of uploads
(``polaris.db.group_commit``). A GET is checked in a read-only transaction too and its
``file.read`` record goes through the group commit of audit records, as the API's download.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session
from wsgidav.dav_error import DAVError

from polaris.dav import checksums, nextcloud
from polaris.dav.context import DavRequest
from polaris.dav.errors import translated
from polaris.db.uow import transaction
from polaris.drive import content, reads, stamps
from polaris.drive.paths import Located
from polaris.storage.refs import ContentRef
from polaris.storage.writer import ContentTooLarge, ContentWriter

#: Bodies up to this size, announced, take the one-transaction path.
SMALL_BODY_BYTES = 1024 * 1024


class ContentReader:
    """The file object WsgiDAV reads a GET's body from."""

    def __init__(self, request: DavRequest, node_id: int) -> None:
        self._request = request
        self._node_id = node_id
        self._start = 0
        self._pieces: Iterator[bytes] | None = None
        #: The piece being read and how far: pieces are chunks (MiBs), reads WsgiDAV's blocks.
        self._piece = b""
        self._offset = 0

    def seek(self, position: int) -> None:
        self._start = position

    def read(self, size: int = -1) -> bytes:
        if self._pieces is None:
            self._pieces = self._open()
        taken = bytearray()
        while size < 0 or len(taken) < size:
            left = len(self._piece) - self._offset
            if not left:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._piece, self._offset = piece, 0
                continue
            take = left if size < 0 else min(left, size - len(taken))
            taken += memoryview(self._piece)[self._offset : self._offset + take]
            self._offset += take
        return bytes(taken)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def _open(self) -> Iterator[bytes]:
        """Authorise and check in a read-only snapshot (the request's held one: downloads run
        side by side), then record the read through the group commit of audit records
        (``instance.audit_commits``), as the API's download does; a byte leaves only once that
        record is committed."""
        request = self._request
        with translated(), transaction(request.session, read_only=True):
            located, version = content.find_content(
                session=request.session,
                actor=request.actor,
                context=request.context,
                node_id=self._node_id,
            )
            byte_range = (self._start, version.size) if self._start else None
            checked = reads.check_read(
                session=request.session,
                context=request.context,
                blobs=request.instance.blobs,
                sessions=request.instance.sessions,
                located=located,
                version=version,
                byte_range=byte_range,
            )
        try:
            with translated():
                checked.audit(request.instance.audit_commits)
        except BaseException:
            checked.close()
            raise
        return checked.stream()


class Upload:
    """The file object WsgiDAV writes a PUT's body into, and its recording.

    ``target``: ``node_id`` for a new version of a file, or ``parent_id`` and ``name`` for a new
    file (which, made by someone else meanwhile, becomes a version of theirs: ``overwrite``).
    """

    def __init__(
        self,
        request: DavRequest,
        length: int | None,
        *,
        environ: dict[str, Any] | None = None,
        **target: Any,
    ) -> None:
        self._request = request
        # ``OC-Checksum`` checked and ``X-OC-Mtime`` kept (the Nextcloud clients, rclone).
        self._checksum = checksums.expected(environ) if environ is not None else None
        self._mtime = nextcloud.mtime_from(environ) if environ is not None else None
        self._digests = checksums.Digests()
        self._target = {**target, "overwrite": True}
        self._length = length
        self._limit = request.instance.settings.drive.max_file_bytes
        self._memory: bytearray | None = None
        self._writer: ContentWriter | None = None
        if self._length is not None and self._length <= min(SMALL_BODY_BYTES, self._limit):
            self._memory = bytearray()
        else:
            self._prepare()
            self._writer = request.instance.blobs.writer(limit=self._limit)

    def _prepare(self) -> None:
        request = self._request
        with translated(), transaction(request.session, read_only=True):
            content.prepare_upload(
                session=request.session,
                actor=request.actor,
                context=request.context,
                size=self._length,
                max_file_bytes=self._limit,
                **self._target,
            )

    def write(self, data: bytes) -> None:
        self._digests.update(data)
        if self._checksum is not None:
            self._checksum.update(data)
        if self._memory is not None:
            self._memory += data
            if self._length is not None and len(self._memory) > self._length:
                raise DAVError(400, context_info="the body is longer than its Content-Length")
            return
        assert self._writer is not None
        try:
            self._writer.write(data)
        except ContentTooLarge as exc:
            raise DAVError(413, context_info=f"a file is at most {exc.limit} bytes") from None

    def close(self) -> None:
        """WsgiDAV closes the body's file; the upload is recorded by :meth:`finish`."""

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()

    def finish(self) -> Located:
        """Record what was written as a new file or version; the node as it is now."""
        body: ContentRef
        if self._memory is not None:
            size = len(self._memory)
        else:
            assert self._writer is not None
            size = self._writer.size
            with translated():
                body = self._writer.finish()
        if self._length is not None and size != self._length:
            raise DAVError(400, context_info="the body does not match its Content-Length")
        if self._checksum is not None:
            self._checksum.check()
        request = self._request
        if self._memory is not None:
            # Checked in the caller's read-only snapshot, then sealed and fsynced outside any
            # transaction (uploads store side by side), as the API does: the writer lock is
            # held only for the manifest and the rows, and a refused body is never stored.
            self._prepare()
            with translated():
                body = request.instance.blobs.put_bytes(bytes(self._memory))

        def record(write: Session) -> Located:
            located, version, _ = content.commit_upload(
                session=write,
                actor=request.actor,
                context=request.context,
                blobs=request.instance.blobs,
                content=body,
                **self._target,
            )
            self._digests.record(write, version.id)
            if self._mtime is not None:
                stamps.set_client_mtime(located.node, self._mtime)
            return located

        # In a write transaction shared with the uploads that get here together
        # (``polaris.db.group_commit``); returns once it is committed.
        with translated():
            located = request.instance.upload_commits.run(record)
        request.changed()
        request.written = located
        request.mtime_accepted = self._mtime is not None
        return located


def declared_length(environ: dict[str, Any]) -> int | None:
    value = environ.get("CONTENT_LENGTH") or ""
    if not value.isdigit():
        return None
    return int(value)
