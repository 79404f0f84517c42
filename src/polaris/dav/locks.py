"""WebDAV class 2 locks in the database, for WsgiDAV's ``LockManager``.

WsgiDAV keeps locks in a dictionary (one process) or a shelve file (one machine). Polaris runs
as several stateless nodes sharing a database, so a lock taken through one node must hold on
every other: this storage keeps each lock as a row (``dav_lock``). A lock's root is the resource's
canonical path (``dav.resources``: the same for ``/dav`` and the Nextcloud address, and for every
user who sees the folder), so a lock taken by one officer is seen by another.

WsgiDAV asks for the locks of a path and of each of its folders, twice per write (its check, then
its write transaction): a PUT three folders deep made ten queries. While a request is served
(:func:`serving`, the gate), the live locks are read once, at the first question, and the
questions answered from that list; taking, refreshing or removing a lock reads them again. With
more than :data:`MEMO_MAX` live locks, each question is a query again.

What is left: WsgiDAV checks for a conflicting lock and then creates its own under a thread lock
of its process; two nodes asked for conflicting exclusive locks in the same instant can both
grant them (docs/clients.md, "Locks").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from wsgidav.lock_man.lock_manager import generate_lock_token, normalize_lock_root, validate_lock

from polaris.dav.models import DavLock
from polaris.db.uow import transaction, unit_of_work

#: A lock asked for without a timeout, or for longer (or "Infinite"), lasts a day at most:
#: WsgiDAV's own bounds (a week, four weeks) would let a forgotten lock block a document for a
#: month. Clients that hold a document open refresh their locks (Office: every few minutes).
DEFAULT_TIMEOUT = 3600.0
MAX_TIMEOUT = 86400.0
#: Live locks read at once for a request; with more, each question is a query of its own.
MEMO_MAX = 1000

#: The live locks read for the request this thread serves (``rows``: None until asked).
_memo = threading.local()


@contextmanager
def serving() -> Iterator[None]:
    """The live locks are read once for the request served inside (``DatabaseLockStorage``)."""
    _memo.active, _memo.rows = True, None
    try:
        yield
    finally:
        _memo.active, _memo.rows = False, None


def _forget() -> None:
    _memo.rows = None


def _stored(lock: dict[str, Any]) -> dict[str, Any]:
    """The lock as JSON: its ``owner`` is XML as bytes in WsgiDAV."""
    data = dict(lock)
    data["owner"] = lock["owner"].decode("utf-8")
    return data


def _loaded(data: dict[str, Any]) -> dict[str, Any]:
    lock = dict(data)
    lock["owner"] = str(data["owner"]).encode("utf-8")
    return lock


class DatabaseLockStorage:
    """The storage interface of ``wsgidav.lock_man.lock_storage.LockStorageDict``, over rows."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __repr__(self) -> str:
        return "DatabaseLockStorage"

    def open(self) -> None:
        """Nothing to open: the table exists (migration 20261206_0020)."""

    def close(self) -> None:
        """Nothing to close: each call uses a session of its own."""

    def cleanup(self) -> None:
        _forget()
        with unit_of_work(self._sessions) as session:
            session.execute(delete(DavLock).where(DavLock.expires < time.time()))

    def clear(self) -> None:
        _forget()
        with unit_of_work(self._sessions) as session:
            session.execute(delete(DavLock))

    def get(self, token: str) -> dict[str, Any] | None:
        """The lock of ``token``; None when there is none or it expired."""
        session = self._sessions()
        try:
            with transaction(session, read_only=True):
                row = session.get(DavLock, token)
                if row is None or row.expires < time.time():
                    return None
                return _loaded(row.data)
        finally:
            session.close()

    def create(self, path: str, lock: dict[str, Any]) -> dict[str, Any]:
        assert lock.get("token") is None and lock.get("expire") is None
        root = normalize_lock_root(path)
        timeout = float(lock.get("timeout") or DEFAULT_TIMEOUT)
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        lock["root"] = root
        lock["timeout"] = timeout
        lock["expire"] = time.time() + timeout
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        _forget()
        with unit_of_work(self._sessions) as session:
            # WsgiDAV never calls ``cleanup``: expired locks go when the next one is taken.
            session.execute(delete(DavLock).where(DavLock.expires < time.time()))
            session.add(
                DavLock(token=lock["token"], root=root, data=_stored(lock), expires=lock["expire"])
            )
        return lock

    def refresh(self, token: str, *, timeout: float) -> dict[str, Any]:
        if timeout < 0 or timeout > MAX_TIMEOUT:
            timeout = MAX_TIMEOUT
        _forget()
        with unit_of_work(self._sessions) as session:
            row = session.get(DavLock, token)
            if row is None:
                raise ValueError("lock must exist")
            lock = _loaded(row.data)
            lock["timeout"] = timeout
            lock["expire"] = time.time() + timeout
            row.data = _stored(lock)
            row.expires = lock["expire"]
        return lock

    def delete(self, token: str) -> bool:
        _forget()
        with unit_of_work(self._sessions) as session:
            removed = session.execute(delete(DavLock).where(DavLock.token == token))
            return bool(getattr(removed, "rowcount", 0))

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list[Any]:
        """Live locks rooted at ``path`` (``include_root``) and below it (``include_children``)."""
        assert include_root or include_children
        root = normalize_lock_root(path)
        prefix = root.rstrip("/") + "/"
        rows = self._live() if getattr(_memo, "active", False) else None
        if rows is None:
            query = select(DavLock).where(DavLock.expires >= time.time())
            below = DavLock.root.startswith(prefix, autoescape=True)
            if include_root and include_children:
                query = query.where((DavLock.root == root) | below)
            elif include_root:
                query = query.where(DavLock.root == root)
            else:
                query = query.where(below)
            rows = self._read(query)
        now = time.time()
        found = [
            (token, data)
            for token, found_root, expires, data in rows
            if expires >= now
            and (
                (include_root and found_root == root)
                or (include_children and found_root.startswith(prefix))
            )
        ]
        if token_only:
            return [token for token, _ in found]
        return [_loaded(data) for _, data in found]

    def _live(self) -> list[tuple[str, str, float, dict[str, Any]]] | None:
        """Every live lock, read once for the request served (None when there are too many)."""
        if _memo.rows is None:
            query = select(DavLock).where(DavLock.expires >= time.time()).limit(MEMO_MAX + 1)
            rows = self._read(query)
            _memo.rows = rows if len(rows) <= MEMO_MAX else False
        return None if _memo.rows is False else list(_memo.rows)

    def _read(self, query: Any) -> list[tuple[str, str, float, dict[str, Any]]]:
        session = self._sessions()
        try:
            with transaction(session, read_only=True):
                return [
                    (row.token, row.root, row.expires, row.data)
                    for row in session.scalars(query.order_by(DavLock.token))
                ]
        finally:
            session.close()
