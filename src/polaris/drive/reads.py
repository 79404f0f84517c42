"""Sending a file version's bytes: checked before the first byte, audited as sent or as failed.

A download used to answer ``200`` with a ``Content-Length`` and then abort at the first bad chunk,
while the audit log said the read succeeded. Now :func:`check_read` (in the transaction that
authorised the read, a read-only snapshot for the download route) and :meth:`CheckedRead.audit`
(committed with the records of concurrent reads: ``polaris.db.group_commit``), both before any
status line exists:

1. reads the version's manifest (authenticated, and naming exactly the content the version row
   names) and the first chunk of the requested range;
2. if either fails, registers a ``file.read_failed`` record to be written after the rollback and
   raises ``IntegrityError`` (500) or ``StorageFailure`` (503): the client gets a clear error, the
   log says the read failed, and no success record exists;
3. otherwise the ``file.read`` record is written (committed before a byte leaves: DESIGN §8) and
   the bytes are returned, the first piece already read. The checks only read, so they run
   beside other requests; only the record's INSERT takes SQLite's one writer lock, once for
   all the reads that arrive together.

A chunk further on can still fail while the response streams (it is read only then: memory stays
bounded). The stream then stops (the server aborts the response, so the client sees it cut short
of its ``Content-Length``), the failure is logged with the node, version and chunk, and a
``file.read_failed`` record is appended in a unit of work of its own, next to the ``file.read``
record written before the first byte.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.db.group_commit import GroupCommit
from polaris.db.uow import after_rollback, unit_of_work
from polaris.drive._locate import Located
from polaris.drive.content import read_record
from polaris.drive.models import FileVersion
from polaris.errors import IntegrityError, StorageFailure
from polaris.storage import names
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore

logger = logging.getLogger(__name__)

#: What the client is told; the chunk and manifest ids go to the server log only.
DAMAGED = "the stored content of this file failed its integrity check and cannot be sent"
UNREADABLE = "the stored content of this file cannot be read now; try again later"
READ_FAILED = "file.read_failed"


class StreamAborted(Exception):
    """Stored content failed after the response began. Deliberately not a ``PolarisError``: no
    handler can answer any more, so the error travels to the server, which aborts the response
    (the client sees fewer bytes than the ``Content-Length``)."""


class _FailedRead:
    """What a ``file.read_failed`` record needs, captured while the version's rows are loaded
    (the record may be written after a rollback, or from the streaming thread)."""

    def __init__(
        self,
        context: AuditContext,
        located: Located,
        version: FileVersion,
        byte_range: tuple[int, int] | None,
    ) -> None:
        self.context = context
        self.node_id = located.node.id
        self.classification = located.classification.name.lower()
        self.version_id = version.id
        self.version_number = version.number
        self.version_hash = version.sha256
        self.byte_range = byte_range

    def describe(self, error: IntegrityError | StorageFailure) -> str:
        return f"node {self.node_id} version {self.version_number} (id {self.version_id}): {error}"

    def object_ids(self, error: IntegrityError | StorageFailure) -> dict[str, Any]:
        return {k: v for k, v in error.extra.items() if k in ("chunk_id", "manifest_id")}

    def record(self, session: Session, error: IntegrityError | StorageFailure, sent: int) -> None:
        detail: dict[str, Any] = {
            "version": self.version_number,
            "sent_bytes": sent,
            **self.object_ids(error),
        }
        if self.byte_range is not None:
            detail["range"] = f"{self.byte_range[0]}-{self.byte_range[1] - 1}"
        audit.append(
            session=session,
            context=self.context,
            action=READ_FAILED,
            object_type="node",
            object_id=self.node_id,
            version_hash=self.version_hash,
            classification=self.classification,
            reason=error.code,
            detail=detail,
        )


class CheckedRead:
    """A version's bytes, checked (manifest and first piece read) but not yet audited.

    :func:`check_read` makes one in the transaction that authorised the read, which may be a
    read-only snapshot (the checks only read); :meth:`audit` writes the ``file.read`` record in
    a write transaction that the caller commits before it sends a byte (DESIGN §8). A read
    that is never audited is never sent: :meth:`close` drops it.
    """

    def __init__(
        self,
        *,
        context: AuditContext,
        located: Located,
        version: FileVersion,
        byte_range: tuple[int, int] | None,
        first: bytes | None,
        rest: Iterator[bytes],
        failed: _FailedRead,
        sessions: sessionmaker[Session],
    ) -> None:
        self._context = context
        self._located = located
        self._version = version
        self._byte_range = byte_range
        self._first = first
        self._rest = rest
        self._failed = failed
        self._sessions = sessions

    def audit(self, commits: GroupCommit) -> None:
        """Write the ``file.read`` record; it is committed when this returns (a read writes
        nothing else, so its record goes with those of concurrent reads, ``commits`` being the
        instance's ``audit_commits``). Raises what ``audit.service.append`` raises for it
        (``AuditUnavailable``, ``ValueError``), a full disk as ``StorageFull``."""
        record = read_record(
            self._context, self._located, self._version, byte_range=self._byte_range
        )
        commits.run(lambda session: audit.append(session=session, **record))

    def audit_in(self, session: Session) -> None:
        """Write the ``file.read`` record in ``session``'s write transaction, which the caller
        commits before it sends a byte (for reads that are not on the download hot path)."""
        audit.append(
            session=session,
            **read_record(self._context, self._located, self._version, byte_range=self._byte_range),
        )

    def whole(self) -> bytes | None:
        """All the bytes asked for when the first piece holds them (a file of one chunk): sent
        as they are, with no stream to step through in the thread pool. None otherwise.

        Call only once :meth:`audit`'s transaction has committed."""
        start, end = self._byte_range or (0, self._version.size)
        first = self._first or b""
        if len(first) != end - start:
            return None
        self.close()
        return first

    def stream(self) -> Iterator[bytes]:
        """The bytes; call only once :meth:`audit`'s transaction has committed."""
        return _stream(self._first, self._rest, self._failed, self._sessions)

    def close(self) -> None:
        """Give up the read (its audit failed): stop the chunks read ahead."""
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


def check_read(
    *,
    session: Session,
    context: AuditContext,
    blobs: BlobStore,
    sessions: sessionmaker[Session],
    located: Located,
    version: FileVersion,
    byte_range: tuple[int, int] | None,
) -> CheckedRead:
    """Check the bytes ``byte_range`` (all when None) of an authorised version, not audited yet.

    Preconditions: the caller authorised the read (``content.find_content``) in ``session``'s
    open transaction (read-only is enough). A failure registers its ``file.read_failed``
    record for after the rollback and raises. ``sessions`` makes the unit of work that records
    a failure found while streaming.
    """
    failed = _FailedRead(context, located, version, byte_range)
    start, end = byte_range if byte_range is not None else (0, version.size)
    try:
        stored = _content_of(version)
        manifest = blobs.read_manifest(version.manifest_id)
        if manifest.content != stored or (stored.size, stored.sha256) != (
            version.size,
            version.sha256,
        ):
            raise IntegrityError(
                f"manifest {version.manifest_id}: names other content than the database's version",
                manifest_id=version.manifest_id,
            )
        pieces = blobs.read_range(stored, start, end)
        first = next(pieces, None)
    except (IntegrityError, StorageFailure) as error:
        logger.error("download refused, stored content unusable: %s", failed.describe(error))
        cause = error  # ``error`` is unbound when the except block ends
        after_rollback(session, lambda later: failed.record(later, cause, 0))
        if isinstance(error, IntegrityError):
            raise IntegrityError(DAMAGED) from None
        raise StorageFailure(UNREADABLE) from None
    return CheckedRead(
        context=context,
        located=located,
        version=version,
        byte_range=byte_range,
        first=first,
        rest=pieces,
        failed=failed,
        sessions=sessions,
    )


def open_read(
    *,
    session: Session,
    context: AuditContext,
    blobs: BlobStore,
    sessions: sessionmaker[Session],
    located: Located,
    version: FileVersion,
    byte_range: tuple[int, int] | None,
) -> Iterator[bytes]:
    """Check, audit and return the bytes ``byte_range`` (all when None) of an authorised version,
    the ``file.read`` record written in ``session``'s own write transaction.

    For the readers off the download route (WebDAV, chat attachments, Matrix media), where one
    transaction both authorises and records. Preconditions: the caller authorised the read in
    ``session``'s open transaction and commits it before sending anything.
    """
    checked = check_read(
        session=session,
        context=context,
        blobs=blobs,
        sessions=sessions,
        located=located,
        version=version,
        byte_range=byte_range,
    )
    checked.audit_in(session)
    return checked.stream()


def _content_of(version: FileVersion) -> ContentRef:
    """The row's chunk list; a row that does not parse (edited in the database) is damage too."""
    try:
        stored = ContentRef.from_dict(version.content)
        names.check_id(version.manifest_id, "manifest id")
    except ValueError as exc:
        raise IntegrityError(f"version row {version.id}: {exc}") from None
    return stored


def _stream(
    first: bytes | None,
    rest: Iterator[bytes],
    failed: _FailedRead,
    sessions: sessionmaker[Session],
) -> Iterator[bytes]:
    """The checked first piece, then the rest; a failure is logged, recorded and raised as
    :class:`StreamAborted` (the server then aborts the response). Only errors of the store are
    caught: a client that goes away closes the generator at a ``yield``, not a failed read."""
    if first is None:
        return
    yield first
    sent = len(first)
    while True:
        try:
            piece = next(rest)
        except StopIteration:
            return
        except (IntegrityError, StorageFailure) as error:
            logger.error(
                "download aborted after %d bytes, stored content unusable: %s",
                sent,
                failed.describe(error),
            )
            with unit_of_work(sessions) as session:
                failed.record(session, error, sent)
            raise StreamAborted(f"download aborted after {sent} bytes") from error
        yield piece
        sent += len(piece)
