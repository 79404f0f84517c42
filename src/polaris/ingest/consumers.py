"""Ingest's consumer of the change stream: previews and text follow the drive's versions.

Registered by importing this module (``polaris.handlers.load_consumers``). It runs in the
transaction that moves its cursor, so each job is queued exactly once per event; the jobs are keyed
by version and skip a version whose previews or text are there, so a batch handed over again (after
a failed transaction) queues nothing twice and redraws nothing.

A restored version is a new version row (its own id) with the content of an older one: it gets its
own previews and text like any new version. Drawing them again costs a job; sharing the older
version's rows would tie the two versions' lifetimes together (a purge of one would take the
other's), for little gain on an action that is rare.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from polaris import events
from polaris.drive import events as drive_events
from polaris.drive import service as drive
from polaris.errors import NotFound
from polaris.ingest import service, text_service

CONSUMER = "ingest.derivatives"


@events.consumer(
    CONSUMER,
    kinds=[drive_events.VERSION_ADDED, drive_events.VERSION_RESTORED, drive_events.NODE_PURGED],
)
def follow_versions(session: Session, batch: Sequence[events.Event]) -> None:
    """Queue the previews and text of new versions; forget what was derived from purged ones."""
    purged: list[int] = []
    for event in batch:
        if event.kind == drive_events.NODE_PURGED:
            purged.extend(_ids(event.data.get("version_ids")))
            continue
        try:
            version = drive.get_version(session, event.subject_id)
        except NotFound:
            continue  # purged since: nothing to draw or read
        kind, size = version.content_type, version.size
        service.request_previews(session, version_id=version.id, content_type=kind, size=size)
        text_service.request_text(session, version_id=version.id, content_type=kind, size=size)
    if purged:
        service.forget_versions(session, purged)


def _ids(value: object) -> list[int]:
    return [int(item) for item in value] if isinstance(value, list) else []
