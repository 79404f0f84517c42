"""Unit reach and group memberships, cached per process and never trusted past a change.

Every request's actor (``actors.actor_for``) needs the units above and below the caller's unit
and the groups the caller belongs to: two queries a request, always with the same answers but
when an administrator changes the tree or a group. They are kept here, per engine (one per
process; a test may make two, as two processes would), each entry under the **identity stamp**
it was read with.

The stamp (``identity_stamp.value``) gets a new random value from database triggers in the very
transaction that changes ``unit_closure`` or ``group_member`` (migration ``20261206_0017``),
whatever code, process or person makes the change. The request reads it in the same statement
as its caller's token or session (no extra statement) and uses an entry only if it was stored
under exactly that stamp. So:

- a request whose snapshot includes a revoked membership reads the new stamp, finds no entry for
  it, and reads the memberships again: staleness is zero, on every node, from the first request
  that starts after the revoke commits (the request that was already running when it committed
  decides as it would have without a cache);
- an entry is loaded after its stamp was read, in the same transaction, so it is never older than
  the stamp it is stored under (on PostgreSQL's per-statement snapshots it can only be newer);
- a stamp is random, not a counter, so no two states share one, even across a rolled-back
  transaction or a restored backup.

Without a stamp (no caller row, e.g. a job or a CLI command) the cache is not used.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from polaris.identity.models import GroupMember, IdentityStamp
from polaris.identity.units import reach

#: Entries kept per kind before the cache starts over (a state has about 1,000 units; groups are
#: per user: the most active users stay in).
MAX_ENTRIES = 20_000

Reach = tuple[frozenset[int], frozenset[int]]


def stamp_column() -> ScalarSelect[int]:
    """The stamp, as a column to add to the query that finds the caller (built once there)."""
    return select(IdentityStamp.value).where(IdentityStamp.id == 1).scalar_subquery()


class FactCache:
    """Reach by unit and groups by user, for the one stamp most recently seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._reach: dict[int, Reach] = {}
        self._groups: dict[int, frozenset[int]] = {}

    def _get(self, table: dict[int, Any], stamp: int, key: int) -> Any:
        with self._lock:
            if stamp != self._stamp:
                return None
            return table.get(key)

    def _put(self, table: dict[int, Any], stamp: int, key: int, value: Any) -> None:
        with self._lock:
            if stamp != self._stamp:
                # Another stamp: start over under this one. A request still on the older
                # snapshot then misses and reads for itself; it never sees newer entries as its.
                self._stamp = stamp
                self._reach.clear()
                self._groups.clear()
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[key] = value

    def reach(self, session: Session, stamp: int, unit_id: int) -> Reach:
        found: Reach | None = self._get(self._reach, stamp, unit_id)
        if found is None:
            found = reach(session=session, unit_id=unit_id)
            self._put(self._reach, stamp, unit_id, found)
        return found

    def groups(self, session: Session, stamp: int, user_id: int) -> frozenset[int]:
        found: frozenset[int] | None = self._get(self._groups, stamp, user_id)
        if found is None:
            found = groups_of(session, user_id)
            self._put(self._groups, stamp, user_id, found)
        return found


_caches: weakref.WeakKeyDictionary[Any, FactCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(session: Session) -> FactCache:
    """The cache of the engine ``session`` works on (one per process and database)."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = FactCache()
        return cache


def groups_of(session: Session, user_id: int) -> frozenset[int]:
    return frozenset(
        session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user_id))
    )


def unit_reach(session: Session, unit_id: int, stamp: int | None) -> Reach:
    """(units strictly above, units strictly below) ``unit_id``; cached when a stamp is given."""
    if stamp is None:
        return reach(session=session, unit_id=unit_id)
    return cache_for(session).reach(session, stamp, unit_id)


def user_groups(session: Session, user_id: int, stamp: int | None) -> frozenset[int]:
    """The groups of ``user_id``; cached when a stamp is given."""
    if stamp is None:
        return groups_of(session, user_id)
    return cache_for(session).groups(session, stamp, user_id)
