"""Reading the directory of users for administrators: pages of users and counts per unit.

Read-only and unaudited, like the JSON API's user list: who holds an account is not secret to an
administrator. Built for ~100,000 users: a page is one keyset query (by username) plus one count,
whatever the page; nothing loads every user.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from polaris.identity.models import UnitClosure, User

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class UserFilter:
    """``search`` matches part of a username or full name, case-insensitively; ``unit_id`` keeps
    the users of that unit, and with ``include_below`` those of every unit below it too."""

    search: str | None = None
    unit_id: int | None = None
    include_below: bool = False
    role: str | None = None
    disabled: bool | None = None


@dataclass(frozen=True)
class UserPage:
    """One page of users by username; pass ``next_after`` as ``after`` for the next page."""

    users: list[User]
    total: int
    next_after: str | None


def _conditions(where: UserFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    search = unicodedata.normalize("NFC", where.search or "").strip()
    if search:
        conditions.append(
            or_(
                User.username.icontains(search, autoescape=True),
                User.full_name.icontains(search, autoescape=True),
            )
        )
    if where.unit_id is not None and where.include_below:
        below = select(UnitClosure.descendant_id).where(UnitClosure.ancestor_id == where.unit_id)
        conditions.append(User.unit_id.in_(below))
    elif where.unit_id is not None:
        conditions.append(User.unit_id == where.unit_id)
    if where.role:
        conditions.append(User.role_code == where.role)
    if where.disabled is True:
        conditions.append(User.disabled_at.is_not(None))
    elif where.disabled is False:
        conditions.append(User.disabled_at.is_(None))
    return conditions


def list_users(
    *, session: Session, where: UserFilter, after: str | None = None, limit: int = 50
) -> UserPage:
    """The users matching ``where`` with a username after ``after``, ordered by username."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    conditions = _conditions(where)
    statement = select(User).where(*conditions).order_by(User.username).limit(limit + 1)
    if after:
        statement = statement.where(User.username > after)
    found = list(session.scalars(statement))
    total = session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    more = len(found) > limit
    page = found[:limit]
    return UserPage(users=page, total=total, next_after=page[-1].username if more else None)


def count_by_unit(*, session: Session) -> dict[int, int]:
    """How many users (disabled ones included) each unit has; units without users are absent."""
    rows = session.execute(select(User.unit_id, func.count()).group_by(User.unit_id)).all()
    return {int(unit_id): int(count) for unit_id, count in rows}


def get_user(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)
