"""SQL of the guard's tables."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.clock import utcnow
from polaris.resilience.models import GuardAccount, GuardCanary


def lock_account(session: Session, user_id: int) -> GuardAccount:
    """The account's row, locked for this transaction (created on first sight)."""
    found = session.get(GuardAccount, user_id, with_for_update=True)
    if found is not None:
        return found
    row = GuardAccount(
        user_id=user_id,
        score=0,
        recent=[],
        minute_start=0,
        minute_writes=0,
        baseline=0.0,
        evidence=[],
        updated_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get_account(session: Session, user_id: int) -> GuardAccount | None:
    return session.get(GuardAccount, user_id)


def is_canary(session: Session, node_id: int) -> bool:
    return session.get(GuardCanary, node_id) is not None


def canaries_among(session: Session, node_ids: Iterable[int]) -> set[int]:
    """Which of these nodes are canaries (one query)."""
    wanted = sorted(set(node_ids))
    if not wanted:
        return set()
    query = select(GuardCanary.node_id).where(GuardCanary.node_id.in_(wanted))
    return set(session.scalars(query))


def add_canary(session: Session, node_id: int, marked_by: int | None) -> bool:
    if is_canary(session, node_id):
        return False
    session.add(GuardCanary(node_id=node_id, marked_by=marked_by, marked_at=utcnow()))
    session.flush()
    return True


def accounts(session: Session, user_ids: list[int]) -> dict[int, GuardAccount]:
    if not user_ids:
        return {}
    rows = session.scalars(select(GuardAccount).where(GuardAccount.user_id.in_(user_ids)))
    return {row.user_id: row for row in rows}
