"""Undoing where an account put files since a time: renames, moves and deletions.

Ransomware that reaches the drive through a synced folder or the API does more than overwrite:
it renames (``report.pdf`` → ``report.pdf.locked``), moves, and deletes originals after writing
encrypted copies. The guard's restore gives content back (``service.restore_since``); this module
gives back names, folders and trashed files, so a restored account looks as it did.

Where things were is read from the audit log, not the change stream: the stream carries ids only
and is compacted, while the tamper-evident log keeps every ``node.rename`` / ``node.move`` with
the name and folder the node came from (``from_name``, ``from_parent_id``) and every
``node.trash``, for as long as the force keeps its audit. The earliest record at or after the
time holds the place a node had just before it.

Every change goes through the drive's own services as the account (so its rules and audit apply,
naming the administrator through ``context``); a node that cannot go back (its old folder gone,
the name taken since) is reported, not forced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session

from polaris.access import Actor
from polaris.audit import reading
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.drive import history, trash
from polaris.drive import service as drive
from polaris.errors import PolarisError

_ACTIONS = ("node.trash", "node.rename", "node.move")


@dataclass
class PlaceBefore:
    """Where a node was just before the time, as far as the account's records since say."""

    name: str | None = None
    parent_id: int | None = None
    #: The id of the account's latest trash record for the node (0: not trashed since).
    trashed_by_record: int = 0


@dataclass
class PlacesRestored:
    untrashed: int = 0
    renamed: int = 0
    moved: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def places_before(session: Session, *, user_id: int, since: dt.datetime) -> dict[int, PlaceBefore]:
    """For each node the account trashed, renamed or moved at or after ``since``, where it was
    before: the earliest record's ``from_`` values win (a later rename starts from the name the
    earlier one gave)."""
    places: dict[int, PlaceBefore] = {}
    for record in _oldest_first(session, user_id=user_id, since=since):
        if record.decision != "allow" or record.object_type != "node" or not record.object_id:
            continue
        try:
            node_id = int(record.object_id)
        except ValueError:
            continue
        place = places.setdefault(node_id, PlaceBefore())
        if record.action == "node.trash":
            place.trashed_by_record = record.id
            continue
        detail = record.detail_value if isinstance(record.detail_value, dict) else {}
        if place.name is None and isinstance(detail.get("from_name"), str):
            place.name = detail["from_name"]
        if place.parent_id is None and isinstance(detail.get("from_parent_id"), int):
            place.parent_id = detail["from_parent_id"]
    return places


def restore_places(
    *,
    session: Session,
    actor: Actor,
    context: AuditContext,
    places: dict[int, PlaceBefore],
) -> PlacesRestored:
    """Put every node back: out of the trash first, latest deletion first (a folder deleted
    after a file in it comes back before the file), then to its old folder and name. Each node
    in a savepoint of its own, so one that cannot go back leaves the others done."""
    report = PlacesRestored()
    failed: set[int] = set()
    trashed = sorted(
        (place.trashed_by_record, node_id)
        for node_id, place in places.items()
        if place.trashed_by_record
    )
    for _, node_id in reversed(trashed):
        untrash = partial(_untrash, session, actor, context, node_id, report)
        if not _attempt(session, node_id, report, untrash):
            failed.add(node_id)
    for node_id, place in sorted(places.items()):
        if node_id not in failed and (place.name is not None or place.parent_id is not None):
            replace = partial(_replace, session, actor, context, node_id, place, report)
            _attempt(session, node_id, report, replace)
    return report


def _attempt(
    session: Session, node_id: int, report: PlacesRestored, step: Callable[[], None]
) -> bool:
    try:
        with session.begin_nested():
            step()
    except PolarisError as error:
        report.failed.append((node_id, error.code))
        return False
    return True


def _untrash(
    session: Session, actor: Actor, context: AuditContext, node_id: int, report: PlacesRestored
) -> None:
    now = history.place_of(session, node_id)
    if now is None or not now.trashed:
        return  # purged (nothing to bring back) or already restored
    trash.restore_node(session=session, actor=actor, context=context, node_id=node_id)
    report.untrashed += 1


def _replace(
    session: Session,
    actor: Actor,
    context: AuditContext,
    node_id: int,
    place: PlaceBefore,
    report: PlacesRestored,
) -> None:
    now = history.place_of(session, node_id)
    if now is None:
        return
    rename = place.name is not None and place.name != now.name
    move = place.parent_id is not None and place.parent_id != now.parent_id
    if not (rename or move):
        return
    drive.update_node(
        session=session,
        actor=actor,
        context=context,
        node_id=node_id,
        name=place.name if rename else None,
        parent_id=place.parent_id if move else None,
    )
    report.renamed += int(rename)
    report.moved += int(move)


def _oldest_first(session: Session, *, user_id: int, since: dt.datetime) -> Iterator[AuditRecord]:
    """The account's trash, rename and move records at or after ``since``, oldest first (the
    reading API pages newest first; an attack's worth of records fits in memory)."""
    records: list[AuditRecord] = []
    for action in _ACTIONS:
        before_id: int | None = None
        while True:
            page = reading.query(
                session=session,
                actor_id=user_id,
                action=action,
                since=since,
                before_id=before_id,
                limit=reading.MAX_QUERY_LIMIT,
            )
            records.extend(page)
            if len(page) < reading.MAX_QUERY_LIMIT:
                break
            before_id = page[-1].id
    yield from sorted(records, key=lambda record: record.id)
