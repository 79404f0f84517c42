"""Units of work: one transaction per action, with effects that must survive a failure.

A denied attempt and a failed login raise an error, which rolls the transaction back, yet both must
leave an audit record (and a failed login a throttle count). Services register such effects with
:func:`after_rollback`; :func:`transaction` runs them in a fresh transaction after the rollback and
then re-raises the original error. A full disk (of the database or the blob store) is raised as
``StorageFull``, whatever layer noticed it (``polaris.db.full``).

A transaction is a write transaction unless asked for ``read_only``: on SQLite a deferred
``BEGIN`` (a WAL snapshot that takes no write lock) instead of ``BEGIN IMMEDIATE``
(``polaris.db.engine``). Effects after a rollback always run in a write transaction.

A read-only transaction may be *held* (``hold=True``): left open when its block ends, for the next
``transaction(session, read_only=True)`` on the session to carry on in it, so that a request's
caller (``polaris.deps``) and the route's reads share one snapshot and one ``BEGIN``. Only a
read-only transaction is held: it takes no lock, and nothing written is left uncommitted. A write
transaction asked for while one is held first ends the held one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from polaris.db.engine import READ_ONLY_OPTION
from polaris.db.full import storage_full_from

_AFTER_ROLLBACK = "polaris.after_rollback"
_HELD = "polaris.held_read"

AfterRollback = Callable[[Session], None]


def after_rollback(session: Session, effect: AfterRollback) -> None:
    """Run ``effect`` in its own transaction if the current one is rolled back."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(effect)


def pop_after_rollback(session: Session) -> list[AfterRollback]:
    """The effects registered on ``session`` since the last call, forgotten there (for
    ``polaris.db.group_commit``, which runs those of a unit rolled back to its savepoint)."""
    effects: list[AfterRollback] = session.info.pop(_AFTER_ROLLBACK, [])
    return effects


@contextmanager
def transaction(
    session: Session, *, read_only: bool = False, hold: bool = False
) -> Iterator[Session]:
    """Commit on success; on any error roll back, persist the after-rollback effects, re-raise.

    Precondition: no transaction is open on ``session``, but a held one (see the module
    docstring). A unit of work never nests silently: a nested one would not commit when it ends,
    and its work could be lost with the outer one.

    ``read_only``: a transaction that only reads (nothing it would write is refused, but on SQLite
    a write in it takes the lock late and may fail; the statement-count tests check that read-only
    routes send no writes). ``hold``: leave it open on success (``read_only`` only).
    """
    if hold and not read_only:
        raise ValueError("only a read-only transaction may be held")
    adopted = _take_held(session, read_only=read_only)
    if not adopted and session.in_transaction():
        raise RuntimeError("a transaction is already open on this session")
    session.info.pop(_AFTER_ROLLBACK, None)
    try:
        if not adopted:
            session.begin()
            if read_only:
                session.connection(execution_options={READ_ONLY_OPTION: True})
        yield session
        if hold:
            session.info[_HELD] = True
        else:
            session.commit()
    except BaseException as error:
        if session.in_transaction():
            session.rollback()
        effects: list[AfterRollback] = session.info.pop(_AFTER_ROLLBACK, [])
        try:
            if effects:
                with session.begin():
                    for effect in effects:
                        effect(session)
        except Exception as effect_error:
            _raise_if_full(effect_error)
            raise
        _raise_if_full(error)
        raise
    session.info.pop(_AFTER_ROLLBACK, None)


def _take_held(session: Session, *, read_only: bool) -> bool:
    """Whether the transaction held on ``session`` goes on for a ``read_only`` one; a held
    transaction that cannot (a write one was asked for) is ended here, having written nothing."""
    if not session.info.pop(_HELD, False) or not session.in_transaction():
        return False
    if read_only:
        return True
    session.commit()
    return False


def end_held(session: Session) -> None:
    """End the read-only transaction held on ``session``, if any (it wrote nothing)."""
    _take_held(session, read_only=False)


def _raise_if_full(error: BaseException) -> None:
    full = storage_full_from(error)
    if full is not None:
        raise full from error


def storage_error(error: Exception) -> Exception:
    """``error`` as :func:`transaction` raises it: a full disk as ``StorageFull``."""
    full = storage_full_from(error)
    if full is None:
        return error
    full.__cause__ = error
    return full


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A new session in one :func:`transaction`, closed afterwards (for work outside a request:
    jobs, the sealer, imports)."""
    session = sessions()
    try:
        with transaction(session):
            yield session
    finally:
        session.close()
