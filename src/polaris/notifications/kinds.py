"""How each kind of notification is shown: a presenter per kind, registered by the module that
makes that kind (``shares.py`` for ``share.granted``; chat's messages would add theirs).

A presenter gets a page of one kind's rows at once (so a page of a hundred is a few queries, not a
hundred) and returns what may be shown of each: the text (a catalogue message and its values),
where it leads. A row left out is one the reader may not see now (``access`` decided): the list
then passes over it, as if it were not there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.notifications.models import Notification


@dataclass(frozen=True)
class Shown:
    """A notification as a page or a client shows it."""

    id: int
    kind: str
    message: str
    values: dict[str, str]
    url: str
    created_at: dt.datetime
    read: bool


Presenter = Callable[[Session, Actor, Sequence[Notification]], dict[int, Shown]]
_PRESENTERS: dict[str, Presenter] = {}


def presenter(kind: str) -> Callable[[Presenter], Presenter]:
    def register(function: Presenter) -> Presenter:
        _PRESENTERS[kind] = function
        return function

    return register


def present(session: Session, actor: Actor, rows: Sequence[Notification]) -> list[Shown]:
    """The rows the reader may see, in their order, each as its kind's presenter shows it (a kind
    without one is passed over)."""
    by_kind: dict[str, list[Notification]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    shown: dict[int, Shown] = {}
    for kind, of_kind in by_kind.items():
        found = _PRESENTERS.get(kind)
        if found is not None:
            shown.update(found(session, actor, of_kind))
    return [shown[row.id] for row in rows if row.id in shown]
