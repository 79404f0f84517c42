"""Units of work: one transaction per action, with effects that must survive a failure.

A denied attempt and a failed login raise an error, which rolls the transaction back, yet both must
leave an audit record (and a failed login a throttle count). Services register such effects with
:func:`after_rollback`; :func:`transaction` runs them in a fresh transaction after the rollback and
then re-raises the original error. A full disk (of the database or the blob store) is raised as
``StorageFull``, whatever layer noticed it (``polaris.db.full``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from polaris.db.full import storage_full_from

_AFTER_ROLLBACK = "polaris.after_rollback"

AfterRollback = Callable[[Session], None]


def after_rollback(session: Session, effect: AfterRollback) -> None:
    """Run ``effect`` in its own transaction if the current one is rolled back."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(effect)


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit on success; on any error roll back, persist the after-rollback effects, re-raise.

    Precondition: no transaction is open on ``session``. A unit of work never nests silently: a
    nested one would not commit when it ends, and its work could be lost with the outer one.
    """
    if session.in_transaction():
        raise RuntimeError("a transaction is already open on this session")
    session.info.pop(_AFTER_ROLLBACK, None)
    try:
        with session.begin():
            yield session
    except BaseException as error:
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


def _raise_if_full(error: BaseException) -> None:
    full = storage_full_from(error)
    if full is not None:
        raise full from error


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
