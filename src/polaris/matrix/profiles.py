"""Profiles and the user directory, from Polaris's own user records.

Who may see whom: every signed-in officer sees the name of every enabled account, as the drive's
share dialog lets them share with any user (docs/matrix.md, "Profiles and the directory"). A
disabled account, another server's user and a missing one answer the same 404. Names come from
the administrators' records: clients cannot change them (``m.set_displayname`` off).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.identity import directory
from polaris.identity.models import User
from polaris.identity.users import normalise_username
from polaris.matrix.ids import user_id as matrix_user_id
from polaris.matrix.ids import username_of
from polaris.web.matrix_errors import MatrixError

DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 50
MAX_SEARCH_TERM = 128


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str

    def as_json(self) -> dict[str, str]:
        return {"displayname": self.display_name}


def find_user(session: Session, *, matrix_id: str, server: str) -> User:
    missing = MatrixError(404, "M_NOT_FOUND", "profile not found")
    name = username_of(matrix_id, server)
    if name is None or not matrix_id.startswith("@"):
        raise missing
    user = session.scalars(
        select(User).where(User.username == normalise_username(name))
    ).one_or_none()
    if user is None or user.disabled_at is not None:
        raise missing
    return user


def display_name(user: User) -> str:
    return f"{user.rank} {user.full_name}" if user.rank else user.full_name


def profile(session: Session, *, matrix_id: str, server: str) -> Profile:
    user = find_user(session, matrix_id=matrix_id, server=server)
    return Profile(user_id=matrix_user_id(user.username, server), display_name=display_name(user))


def search(
    session: Session, *, term: str, limit: int | None, server: str
) -> tuple[list[Profile], bool]:
    """Enabled users whose username or name holds ``term``, by username; (results, limited)."""
    wanted = DEFAULT_SEARCH_LIMIT if limit is None else max(1, min(limit, MAX_SEARCH_LIMIT))
    term = term.strip()[:MAX_SEARCH_TERM]
    if not term:
        return [], False
    page = directory.list_users(
        session=session,
        where=directory.UserFilter(search=term, disabled=False),
        limit=wanted,
    )
    found = [
        Profile(user_id=matrix_user_id(u.username, server), display_name=display_name(u))
        for u in page.users
    ]
    return found, page.next_after is not None
