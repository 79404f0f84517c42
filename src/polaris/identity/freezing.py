"""An account's writes frozen and unfrozen: the flag ``access`` reads with the actor.

The ransomware guard (``polaris.resilience``) decides when; identity only keeps the flag on the
user row, so that every request's actor carries it (``actors.actor_for``) and the one policy
(``access.policy.decide``) refuses the account's writes while it is set. The caller audits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from polaris.errors import NotFound
from polaris.identity.models import User


def set_writes_frozen(session: Session, *, user_id: int, frozen_at: dt.datetime | None) -> bool:
    """Freeze (a time) or unfreeze (None) the account's writes; whether the state changed.

    One conditional ``UPDATE``: two freezes at once change the row once.
    """
    if session.get(User, user_id) is None:
        raise NotFound("user not found")
    now_frozen = User.writes_frozen_at.is_not(None)
    query = (
        update(User)
        .where(User.id == user_id, ~now_frozen if frozen_at is not None else now_frozen)
        .values(writes_frozen_at=frozen_at)
        .execution_options(synchronize_session="fetch")
    )
    result = session.execute(query)
    return bool(getattr(result, "rowcount", 0))


def frozen_users(session: Session) -> list[User]:
    """Every account whose writes are frozen, the most recently frozen first."""
    query = select(User).where(User.writes_frozen_at.is_not(None))
    return list(session.scalars(query.order_by(User.writes_frozen_at.desc(), User.id)))
