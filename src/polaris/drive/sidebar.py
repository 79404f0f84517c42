"""The spaces sidebar of the signed-in frame: the spaces the person may open.

Drive's pages show it, and so do the pages of other packages drawn in the same frame (search
results, a file's previews). They call this module, never drive's page modules: a package uses a
sibling's services, not its routes (docs/architecture.md, "Modules and imports").
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access.policy import Actor
from polaris.config import Settings
from polaris.db.uow import transaction
from polaris.drive import spaces
from polaris.drive.schemas import SpaceRead
from polaris.identity import units


def sidebar_of(*, session: Session, actor: Actor, settings: Settings) -> list[SpaceRead]:
    """``actor``'s spaces, their own first (``spaces.visible_spaces``), as the pages show them;
    a unit space carries its unit's Hindi name (``name_hi``, one query for them all)."""
    found = spaces.visible_spaces(
        session=session, actor=actor, defaults=spaces.space_defaults(settings)
    )
    hindi = {
        unit.id: unit.name_hi
        for unit in units.by_ids(
            session=session, unit_ids=[s.unit_id for s in found if s.unit_id is not None]
        ).values()
    }
    shown = [SpaceRead.of(space, actor) for space in found]
    return [
        read.model_copy(update={"name_hi": hindi.get(read.unit_id)}) if read.unit_id else read
        for read in shown
    ]


def make_missing_spaces(*, session: Session, actor: Actor, settings: Settings) -> None:
    """Before a page drawn in a read-only transaction calls :func:`sidebar_of`: the spaces a
    first visit lacks (the person's own, a unit's never used) made in a write transaction of
    their own. Made inside the read one, SQLite refuses the write at once whenever another
    writer holds the lock ("database is locked": a chat room as someone's first page)."""
    with transaction(session, read_only=True):
        ready = spaces.existing_visible_spaces(session=session, actor=actor) is not None
    if not ready:
        with transaction(session):
            spaces.visible_spaces(
                session=session, actor=actor, defaults=spaces.space_defaults(settings)
            )
