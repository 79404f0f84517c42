"""Telling a full disk apart from other failures, whichever layer reports it.

A full disk reaches Polaris as ``OSError`` (ENOSPC, EDQUOT) from the blob store, as SQLite's
``SQLITE_FULL`` ("database or disk is full") and as PostgreSQL's SQLSTATE 53100 ``disk_full``,
the last two wrapped in SQLAlchemy's ``OperationalError`` and perhaps in ``AuditUnavailable``.
All of them mean the same to a client: nothing was saved, try again when there is room (DESIGN §8:
ENOSPC anywhere gives a clear error and loses nothing). Nothing needs resetting once space is
freed: the failed transaction was rolled back and its connection is as good as before.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

from polaris.errors import StorageFull

#: SQLite's primary result code for "database or disk is full".
SQLITE_FULL = 13
#: PostgreSQL's SQLSTATE ``disk_full`` (class 53, insufficient resources).
POSTGRESQL_DISK_FULL = "53100"
#: What a client is told (the internal detail, with file names, goes to the log only).
FULL_DETAIL = "the server's storage is full; nothing was saved"
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_storage_full(error: BaseException) -> bool:
    """Whether ``error``, or any error it was raised from, says the disk is full."""
    return any(_says_full(link) for link in _chain(error))


def storage_full_from(error: BaseException) -> StorageFull | None:
    """A ``StorageFull`` with the plain detail for an error that says the disk is full."""
    if isinstance(error, StorageFull) or not is_storage_full(error):
        return None
    return StorageFull(FULL_DETAIL)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)  # SQLAlchemy's DBAPIError keeps the driver's error
        pending += [link.__cause__, link.__context__]
        if isinstance(orig, BaseException):
            pending.append(orig)


def _says_full(error: BaseException) -> bool:
    if isinstance(error, StorageFull):
        return True
    if isinstance(error, OSError):
        return error.errno in _FULL_ERRNOS
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code == SQLITE_FULL or (code is None and "database or disk is full" in str(error))
    return getattr(error, "sqlstate", None) == POSTGRESQL_DISK_FULL
