"""WebDAV class 2 locks in the database, for WsgiDAV's ``LockManager``.

WsgiDAV keeps locks in a dictionary (one process) or a shelve file (one machine). Polaris runs
as several stateless nodes sharing a database, so a lock taken through one node must hold on
every other: this storage keeps each lock as a row (``dav_lock``). A lock's root is the resource's
canonical path (``dav.resources``: the same for ``/dav`` and the Nextcloud address, and for every
user who sees the folder), so a lock taken by one officer is seen by another.

What is left: WsgiDAV checks for a conflicting lock and then creates its own under a thread lock
of its process; two nodes asked for conflicting exclusive locks in the same instant can both
grant them (docs/clients.md, "Locks").
"""

from __future__ import annotations

import time
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
        with unit_of_work(self._sessions) as session:
            session.execute(delete(DavLock).where(DavLock.expires < time.time()))

    def clear(self) -> None:
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
        with unit_of_work(self._sessions) as session:
            removed = session.execute(delete(DavLock).where(DavLock.token == token))
            return bool(getattr(removed, "rowcount", 0))

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list[Any]:
        """Live locks rooted at ``path`` (``include_root``) and below it (``include_children``)."""
        assert include_root or include_children
        root = normalize_lock_root(path)
        query = select(DavLock).where(DavLock.expires >= time.time())
        below = DavLock.root.startswith(root.rstrip("/") + "/", autoescape=True)
        if include_root and include_children:
            query = query.where((DavLock.root == root) | below)
        elif include_root:
            query = query.where(DavLock.root == root)
        else:
            query = query.where(below)
        session = self._sessions()
        try:
            with transaction(session, read_only=True):
                rows = session.scalars(query.order_by(DavLock.token)).all()
                if token_only:
                    return [row.token for row in rows]
                return [_loaded(row.data) for row in rows]
        finally:
            session.close()
