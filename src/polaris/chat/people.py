"""Finding a person to talk to, for the page's "start a conversation" and "invite" forms.

The forms use the directory's picker, as the drive's share form does: ``static/js/picker.js``
asks ``GET /api/v1/directory/suggest?kind=user`` as someone types and puts the chosen person's
``user:<id>`` in a hidden field. Without the script the typed text is resolved here with
``identity.suggest.resolve`` (an exact username, or the one person matching), and when it names
several people or none the page lists the candidates (``find_people``) with a button each. The
same rules as the share form decide who is found (``access.policy.directory_reach``): the names
of the force's officers are not secret among its officers. Never the one asking, and at most
``LIMIT`` people, so the list cannot be used to read the whole directory in one request.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.errors import ValidationFailed
from polaris.identity import suggest

LIMIT = 10
#: Fewer characters than this find nobody: "a" would match nearly everyone.
MIN_CHARS = 2


def find_people(
    session: Session, actor: Actor, text: str, *, language: str
) -> list[suggest.Suggestion]:
    """The enabled users matching ``text`` (every word: name, rank, username or unit), best
    first, without the one asking."""
    if len(text.strip()) < MIN_CHARS:
        return []
    found = suggest.suggest(
        session=session,
        actor=actor,
        query=text,
        language=language,
        kinds=("user",),
        limit=LIMIT + 1,
    )
    return [person for person in found if person.id != actor.user_id][:LIMIT]


def picked_person(
    session: Session, actor: Actor, *, typed: str, ref: str, language: str
) -> int | None:
    """The user a person picker names: its ``user:<id>`` (the script's choice), else the one
    person the typed text resolves to; None when it names several or none (list them)."""
    if ref:
        kind, _, number = ref.partition(":")
        if kind != "user" or not number.isdigit() or not 0 < int(number) <= 2**53:
            raise ValidationFailed("choose a person from the list", code="chat_bad_person")
        return int(number)
    if len(typed.strip()) < MIN_CHARS:
        return None
    resolved = suggest.resolve(
        session=session, actor=actor, kind="user", typed=typed, language=language
    )
    return resolved.chosen.id if resolved.chosen is not None else None
