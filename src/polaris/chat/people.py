"""Finding a person to talk to by part of their name or username, for the page's "start a
conversation" and "invite" forms.

Everyone who may chat may find a colleague: the names of the force's officers are not secret
among its officers (the drive's share form takes a username in the same way). Only enabled users
are offered, never the one asking, and at most ``LIMIT`` of them, so the list cannot be used to
read the whole directory in one request.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.identity.directory import UserFilter, list_users

LIMIT = 10
#: Fewer characters than this find nobody: "a" would match nearly everyone.
MIN_CHARS = 2


@dataclass(frozen=True)
class Person:
    id: int
    username: str
    name: str


def find_people(session: Session, text: str, *, exclude: int) -> list[Person]:
    """Enabled users whose username or full name holds ``text`` (case-insensitive)."""
    wanted = unicodedata.normalize("NFC", text).strip()
    if len(wanted) < MIN_CHARS:
        return []
    found = list_users(
        session=session, where=UserFilter(search=wanted, disabled=False), limit=LIMIT + 1
    )
    return [
        Person(user.id, user.username, user.full_name) for user in found.users if user.id != exclude
    ][:LIMIT]
