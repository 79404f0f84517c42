"""Engines and sessions for SQLite (embedded default) and PostgreSQL (state scale).

SQLite runs in WAL mode with foreign keys on. Every SQLite write transaction starts with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes fails with ``SQLITE_BUSY``
when another writer committed in between. Taking the write lock at the start makes writers queue
(``busy_timeout``) instead of failing; WAL readers are never blocked. A transaction that only
reads says so (``READ_ONLY_OPTION``, ``polaris.db.uow.transaction(read_only=True)``: the caller
of every request, the routes that only read, long exports) and starts with a deferred ``BEGIN``,
a WAL snapshot that takes no lock at all.

Within one process, writers also queue on a Python lock before ``BEGIN IMMEDIATE``. SQLite's busy
handler waits by sleeping with back-off (up to tens of milliseconds), so eight threads contending
for the write lock spent most of their time asleep; a lock wakes the next writer the moment the
last one commits. Other processes (a worker, the CLI) still queue through ``busy_timeout``.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Connections kept open: as many as the threads that run blocking routes at once (AnyIO's
#: default thread limiter, which Starlette's ``run_in_threadpool`` uses, holds 40). With
#: SQLAlchemy's default of 5 kept (and 10 more opened and closed again), a loaded server opened a
#: new SQLite connection (four PRAGMAs) for most requests and queued on the pool beyond 15.
THREADS = 40
SQLITE_POOL = {"pool_size": THREADS, "max_overflow": 8}
READ_ONLY_OPTION = "polaris_read_only"
_GATE_HELD = "polaris_writer_gate_held"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        # PostgreSQL keeps SQLAlchemy's default (5 + 10): each connection is a server process,
        # and docs/scale.md sizes ``max_connections`` on 15 per process.
        return create_engine(url, echo=echo, pool_pre_ping=True)
    raise ValueError(f"unsupported database: {parsed.get_backend_name()}")


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = make_url(url).database
    in_memory = database in (None, "", ":memory:") or "mode=memory" in url
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False},
        **({} if in_memory else SQLITE_POOL),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    writer_gate = WriterGate(_lock_path(url))

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_GATE_HELD, False):
            writer_gate.release()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")  # a WAL snapshot; writers go on meanwhile
            return
        # On a timeout, go on without the gate: SQLite's own lock still keeps writes serial.
        if writer_gate.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            connection.info[_GATE_HELD] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        _release(connection.info)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        _release(connection.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        _release(record.info)  # a connection given back with its transaction still open

    return engine


class WriterGate:
    """Writers of one SQLite file queue here before ``BEGIN IMMEDIATE``.

    A thread lock orders the threads of this process; an ``flock`` on a file beside the database
    orders processes (several ``polaris serve`` workers, a job worker, the CLI). Both wake the next
    writer the moment the lock is released, where SQLite's busy handler would sleep and poll.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        if not self._thread_lock.acquire(timeout=timeout):
            return False
        if self._lock_path is not None:
            try:
                if self._fd is None:
                    self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError:
                # No lock file (read-only directory...): SQLite's own lock still serialises.
                self._fd = None
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


def _lock_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + "-writer.lock")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for long read-only work (verify, export) that must not block writers.

    On SQLite the transaction starts deferred, a WAL snapshot that takes no write lock; on
    PostgreSQL it is a read-only REPEATABLE READ transaction, one consistent snapshot throughout.
    """
    options: dict[str, Any] = {READ_ONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return sessionmaker(bind=engine.execution_options(**options), expire_on_commit=False)


def is_postgresql(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"
