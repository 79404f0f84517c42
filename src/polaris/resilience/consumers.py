"""The guard's consumer of the change stream: each account's writes, scored as they come.

Registered by importing this module (``polaris.handlers.load_consumers``). It starts at the head
(``start="now"``): replaying the past would freeze for an attack already dealt with. It runs after
the writes commit, woken by each commit, so it keeps up with one client writing as fast as it can
(``docs/resilience.md`` has the figures); the freeze itself is read with every request's actor
(``access``), so the first write after it is refused.

A batch handed over again (after a failed transaction) is scored again from the same row state:
the row's update and the cursor's move commit together, so nothing is counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris import events
from polaris.drive import events as drive_events
from polaris.drive import history
from polaris.drive.models import FileVersion
from polaris.resilience import repo, scoring, service, signals
from polaris.storage.refs import ContentRef
from polaris.storage.store import BlobStore, blobs_of

log = logging.getLogger("polaris.resilience")

CONSUMER = "resilience.guard"
KINDS = [
    drive_events.NODE_CREATED,
    drive_events.NODE_RENAMED,
    drive_events.NODE_MOVED,
    drive_events.NODE_TRASHED,
    drive_events.VERSION_ADDED,
]

#: What done to a canary freezes at once.
CANARY_KINDS = frozenset(
    {drive_events.NODE_RENAMED, drive_events.NODE_TRASHED, drive_events.VERSION_ADDED}
)


@events.consumer(CONSUMER, kinds=KINDS, batch=200, start="now")
def follow_writes(session: Session, batch: Sequence[events.Event]) -> None:
    """Score each user's writes in the batch; freeze an account whose score reaches the mark."""
    known = _Known.of(session, batch)
    blobs = blobs_of(session.info)
    by_user: dict[int, list[events.Event]] = {}
    for event in batch:
        if event.actor_id is not None:
            by_user.setdefault(event.actor_id, []).append(event)
    for user_id, mine in sorted(by_user.items()):
        state = repo.lock_account(session, user_id)
        window = scoring.Window(
            state.recent,
            minute_start=state.minute_start,
            minute_writes=state.minute_writes,
            baseline=state.baseline,
        )
        canary = False
        found: list[dict[str, object]] = []
        for event in mine:
            findings = _findings(known, blobs, event)
            canary = canary or scoring.CANARY in findings
            if event.kind == drive_events.NODE_CREATED:
                scored = scoring.points(findings)  # a creation is no overwrite: not counted
                if scored:
                    window.recent.append([event.created_at.timestamp(), scored])
            else:
                scored = window.record(event.created_at.timestamp(), findings)
            if findings:
                found.append(_evidence(event, findings, scored))
        state.recent, state.baseline = window.recent, window.baseline
        state.minute_start, state.minute_writes = window.minute_start, window.minute_writes
        state.score = window.score
        state.evidence = (state.evidence + found)[-scoring.EVIDENCE_KEPT :]
        if canary or state.score >= scoring.FREEZE_SCORE:
            service.freeze(session, state, reason="canary" if canary else "score")


@dataclass(frozen=True)
class _Known:
    """What a batch's events need from the drive, read together: a few queries a batch rather
    than four an event (names, versions with the ones before them, canaries)."""

    names: dict[int, str]
    versions: dict[int, tuple[FileVersion, FileVersion | None]]
    canaries: set[int]

    @classmethod
    def of(cls, session: Session, batch: Sequence[events.Event]) -> _Known:
        named = [e.subject_id for e in batch if e.kind in _NAMED]
        added = [e.subject_id for e in batch if e.kind == drive_events.VERSION_ADDED]
        touched = [_node_of(e) for e in batch if e.kind in CANARY_KINDS]
        return cls(
            names=history.node_names(session, named),
            versions=history.versions_and_previous(session, added),
            canaries=repo.canaries_among(session, touched),
        )


_NAMED = (drive_events.NODE_CREATED, drive_events.NODE_RENAMED)


def _node_of(event: events.Event) -> int:
    if event.kind == drive_events.VERSION_ADDED:
        return int(str(event.data.get("node_id")))
    return event.subject_id


def _findings(known: _Known, blobs: BlobStore | None, event: events.Event) -> list[str]:
    findings: list[str] = []
    if event.kind in _NAMED:
        name = known.names.get(event.subject_id)
        findings += signals.name_findings(name) if name is not None else []
    if event.kind == drive_events.VERSION_ADDED and blobs is not None:
        findings += _content_findings(known, blobs, event.subject_id)
    if event.kind in CANARY_KINDS and _node_of(event) in known.canaries:
        findings.append(scoring.CANARY)
    return findings


def _content_findings(known: _Known, blobs: BlobStore, version_id: int) -> list[str]:
    if version_id not in known.versions:
        return []  # purged since
    version, before = known.versions[version_id]
    new = _sample(blobs, version)
    if before is None:
        return signals.new_file_findings(version.content_type, new)
    if before.sha256 == version.sha256:
        return []
    return signals.overwrite_findings(_sample(blobs, before), new)


def _sample(blobs: BlobStore, version: FileVersion) -> signals.Sample:
    """The start, middle and end of a version, read through the blob store's streamed reads."""
    content = ContentRef.from_dict(version.content)
    pieces = [
        b"".join(blobs.read_range(content, start, end))
        for start, end in signals.sample_ranges(content.size)
    ]
    return signals.Sample.of(pieces)


def _evidence(event: events.Event, findings: list[str], scored: int) -> dict[str, object]:
    return {
        "at": event.created_at.isoformat(timespec="seconds"),
        "event": event.kind,
        "subject_id": event.subject_id,
        "findings": findings,
        "points": scored,
    }
