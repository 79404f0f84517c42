"""Finding people, units and groups by part of what an officer remembers of them.

The share form's picker asks ``GET /api/v1/directory/suggest?q=`` as someone types, and the form
without JavaScript resolves what was typed with :func:`resolve`: a part of a name, a rank, a
username, a unit's name (English or Hindi) or code, or a group's name, in any case, with or without
a nukta. Each word typed must match some field of the entry (``SI शर्मा कोतवाली``: the rank, the
name and the unit), so a few words narrow a common name down.

Folding is done on both sides, in SQL on the stored names, so that nothing loads every user:
a term is NFKC-normalised, the invisible joiners are removed, the nukta is dropped (the precomposed
letters become their plain ones) and it is lower-cased; for a Devanagari term the columns get the
same nukta replacement, and every comparison is case-insensitive (``lower()`` is ASCII-only on
SQLite, which is enough: Devanagari has no case, and a name in another cased script is rare). A
term is compared with ``LIKE '%term%'`` (escaped): a scan, whose cost at 100,000 users is in
docs/performance.md ("The directory's picker").

Only what the caller may see is found (``access.policy.directory_reach``): a group they may not see
is not suggested, nor resolved, exactly as a group that does not exist.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from polaris.access.policy import Actor, directory_reach
from polaris.identity.groups import visible_to
from polaris.identity.models import Unit, User, UserGroup

Kind = Literal["user", "unit", "group"]
KINDS: tuple[Kind, ...] = ("user", "unit", "group")
DEFAULT_LIMIT = 8
MAX_LIMIT = 20
#: A longer query is cut: nobody types more to find a person, and each word is a LIKE.
MAX_QUERY = 100
MAX_WORDS = 5

NUKTA = "\u093c"
#: The letters with a nukta that NFC composes, and their plain letters: the database folds only
#: these and the nukta. The other precomposed ones (U+0958–U+095F) NFC decomposes; the CSV
#: import and groups store NFC, and keyboards type the nukta as a mark of its own anyway.
NFC_COMPOSED = {"\u0929": "\u0928", "\u0931": "\u0930", "\u0934": "\u0933"}
#: Every letter with a nukta that may come precomposed, as a query may type it.
PRECOMPOSED = {
    **NFC_COMPOSED,
    "\u0958": "\u0915",
    "\u0959": "\u0916",
    "\u095a": "\u0917",
    "\u095b": "\u091c",
    "\u095c": "\u0921",
    "\u095d": "\u0922",
    "\u095e": "\u092b",
    "\u095f": "\u092f",
}
IGNORABLES = "\u00ad\u200c\u200d\u2060\ufeff"


def fold(text: str) -> str:
    """What a name is compared as: NFKC, no joiners, no nukta, lower case."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(char for char in text if char not in IGNORABLES)
    text = "".join(PRECOMPOSED.get(char, char) for char in text).replace(NUKTA, "")
    return text.lower()


def words_of(query: str) -> list[str]:
    """The folded words of a query (at most :data:`MAX_WORDS`, the query cut at
    :data:`MAX_QUERY` characters)."""
    return fold(query[:MAX_QUERY]).split()[:MAX_WORDS]


def _devanagari(word: str) -> bool:
    return any("\u0900" <= char <= "\u097f" for char in word)


def _cased(word: str) -> bool:
    return word != word.upper()


@dataclass(frozen=True)
class _Match:
    """How to compare on this database: SQLite's ``LIKE`` ignores ASCII case by itself (and its
    ``lower()`` knows nothing else), PostgreSQL's needs ``lower()`` on the column, which costs
    more than the ``LIKE`` (measured: 125 against 35 ms over 100,000 names), so it is only paid
    where case can matter."""

    like_ignores_case: bool

    def __call__(self, column: QueryableAttribute[Any], word: str) -> ColumnElement[bool]:
        """The column holds the (folded) word. Only a Devanagari word pays for folding the nukta
        out of the column: a Latin word cannot match across one. Usernames are stored lower-case."""
        expression: ColumnElement[Any] = func.coalesce(column, "")
        if _devanagari(word):
            for composed, plain in NFC_COMPOSED.items():
                expression = func.replace(expression, composed, plain)
            expression = func.replace(expression, NUKTA, "")
        if _cased(word) and not self.like_ignores_case and column is not User.username:
            expression = func.lower(expression)
        return type_coerce(expression, String).contains(word, autoescape=True)

    def units(self, word: str) -> ColumnElement[bool]:
        """The units whose code or name (either language) holds the word, for ``Unit.id IN``'s
        subquery: a person or a group is found by their unit's name without folding the unit's
        names again on every person's row."""
        return or_(*(self(column, word) for column in (Unit.code, Unit.name, Unit.name_hi)))

    def each_word(
        self,
        words: Sequence[str],
        columns: Sequence[QueryableAttribute[Any]],
        unit_column: QueryableAttribute[Any] | None = None,
    ) -> ColumnElement[bool]:
        """Every word matches one of ``columns``, or (with ``unit_column``) the unit named there."""
        conditions = []
        for word in words:
            either = [self(column, word) for column in columns]
            if unit_column is not None:
                either.append(unit_column.in_(select(Unit.id).where(self.units(word))))
            conditions.append(or_(*either))
        return and_(*conditions)


def _match_for(session: Session) -> _Match:
    return _Match(like_ignores_case=session.get_bind().dialect.name == "sqlite")


@dataclass(frozen=True)
class Suggestion:
    """One entry: ``label`` and ``unit`` in the caller's language; ``handle`` is the username, the
    unit code or the group name (what identifies it beside the label)."""

    kind: Kind
    id: int
    label: str
    unit: str
    handle: str

    @property
    def ref(self) -> str:
        """What a form sends for it: ``kind:id``."""
        return f"{self.kind}:{self.id}"


def unit_label(unit: Unit | None, language: str) -> str:
    if unit is None:
        return ""
    return unit.name_hi if language == "hi" and unit.name_hi else unit.name


def person_label(user: User) -> str:
    return f"{user.rank} {user.full_name}" if user.rank else user.full_name


def _rank(suggestion: Suggestion, words: Sequence[str]) -> tuple[int, str]:
    """Whole handle or label typed first, then those starting with what was typed."""
    whole = " ".join(words)
    handle, label = fold(suggestion.handle), fold(suggestion.label)
    if whole in (handle, label):
        return (0, label)
    if handle.startswith(whole) or label.startswith(whole):
        return (1, label)
    return (2, label)


def suggest(
    *,
    session: Session,
    actor: Actor,
    query: str,
    language: str,
    kinds: Sequence[Kind] = KINDS,
    limit: int = DEFAULT_LIMIT,
) -> list[Suggestion]:
    """Up to ``limit`` entries of ``kinds`` matching every word of ``query`` that ``actor`` may see;
    best first. Three queries at most, whatever the directory's size."""
    words = words_of(query)
    limit = max(1, min(limit, MAX_LIMIT))
    if not words:
        return []
    reach = directory_reach(actor)
    found: list[Suggestion] = []
    if "user" in kinds and reach.people:
        found += _people(session, words, language, limit)
    if "unit" in kinds and reach.units:
        found += _units(session, words, language, limit)
    if "group" in kinds:
        found += _groups(session, actor, words, language, limit)
    found.sort(key=lambda suggestion: _rank(suggestion, words))
    return found[:limit]


def _people(session: Session, words: list[str], language: str, limit: int) -> list[Suggestion]:
    columns = [User.username, User.full_name, User.rank]
    match = _match_for(session)
    rows = session.execute(
        select(User, Unit)
        .join(Unit, Unit.id == User.unit_id)
        .where(User.disabled_at.is_(None), match.each_word(words, columns, User.unit_id))
        .order_by(User.username)
        .limit(limit)
    ).all()
    return [
        Suggestion("user", user.id, person_label(user), unit_label(unit, language), user.username)
        for user, unit in rows
    ]


def _units(session: Session, words: list[str], language: str, limit: int) -> list[Suggestion]:
    parent = aliased(Unit)
    match = _match_for(session)
    rows = session.execute(
        select(Unit, parent)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .where(match.each_word(words, [Unit.code, Unit.name, Unit.name_hi]))
        .order_by(Unit.code)
        .limit(limit)
    ).all()
    return [
        Suggestion("unit", unit.id, unit_label(unit, language), unit_label(up, language), unit.code)
        for unit, up in rows
    ]


def _groups(
    session: Session, actor: Actor, words: list[str], language: str, limit: int
) -> list[Suggestion]:
    visible = visible_to(actor)
    match = _match_for(session)
    rows = session.execute(
        select(UserGroup, Unit)
        .outerjoin(Unit, Unit.id == UserGroup.unit_id)
        .where(visible, match.each_word(words, [UserGroup.name], UserGroup.unit_id))
        .order_by(UserGroup.name)
        .limit(limit)
    ).all()
    return [
        Suggestion("group", group.id, group.name, unit_label(unit, language), group.name)
        for group, unit in rows
    ]


@dataclass(frozen=True)
class Resolved:
    """What a typed name comes to: one entry, or the candidates (none: unknown; several:
    ambiguous, to choose from)."""

    chosen: Suggestion | None
    candidates: list[Suggestion]


def resolve(*, session: Session, actor: Actor, kind: Kind, typed: str, language: str) -> Resolved:
    """A typed name of ``kind``: an exact username, unit code or group name (folded) wins; else
    the one entry matching, if only one does."""
    found = suggest(
        session=session, actor=actor, query=typed, language=language, kinds=[kind], limit=6
    )
    whole = " ".join(words_of(typed))
    exact = [s for s in found if fold(s.handle) == whole]
    if len(exact) == 1:
        return Resolved(exact[0], exact)
    if len(found) == 1:
        return Resolved(found[0], found)
    return Resolved(None, found)
