"""The retention pass: expire old versions and purge the trash as the rules say
(``polaris.drive.retention``), never past a legal hold (``polaris.drive.holds``).

It runs as the ``drive.retention`` job, on whichever node's worker claims it. The job queues its
own next run (``RUN_EVERY`` later, keyed, so one is waiting however many nodes start) before it
works, so a failing pass is retried with the queue's backoff and the schedule goes on; a server or
worker that starts queues the first one (``polaris.handlers.schedule_periodic``).

Each expired version and each purged node is its own transaction, through the drive's own
functions: the audit record, the change stream event and the quota release happen as for an
administrator's purge. ``now`` is passed in (tests give a later time instead of waiting).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from polaris import events, jobs
from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.drive import holds, repo, retention, retention_repo, trash
from polaris.drive._locate import Located, locate
from polaris.drive.events import actor_id
from polaris.drive.models import FileVersion
from polaris.drive.service import audit_node
from polaris.errors import Conflict, PolarisError

log = logging.getLogger("polaris.drive.retention")

JOB = "drive.retention"
RUN_EVERY = dt.timedelta(hours=1)
#: Versions and trashed nodes looked at per pass; the next pass takes the rest.
BATCH = 2000
VERSION_EXPIRED = "version.expired"
SYSTEM = "retention"


@dataclass
class Outcome:
    expired_versions: int = 0
    released_bytes: int = 0
    purged_nodes: int = 0
    held: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "expired_versions": self.expired_versions,
            "released_bytes": self.released_bytes,
            "purged_nodes": self.purged_nodes,
            "held": self.held,
        }


def expire_version(
    *,
    session: Session,
    actor: Actor | None,
    context: AuditContext,
    located: Located,
    version: FileVersion,
) -> int:
    """Remove one old version of a file for good and release its bytes from the quota.

    Conflict ``current_version`` for the file's current version, ``legal_hold`` (audited) under
    a hold. The caller has decided the rules allow it. Returns the bytes released.
    """
    if version.node_id != located.node.id or version.id == located.node.current_version_id:
        raise Conflict("the current version of a file is never expired", code="current_version")
    held = holds.holds_over(session, located.node)
    if held:
        holds.refuse_held(session, context, located, held[0], "file.expire_version")
    size, number, sha256 = version.size, version.number, version.sha256
    version_id = version.id
    session.expunge(version)
    retention_repo.delete_version(session, version_id)
    repo.release_bytes(session, located.space.id, size)
    audit_node(
        session,
        context,
        "file.expire_version",
        located,
        version_hash=sha256,
        detail={"version": number, "bytes": size},
    )
    events.append(
        session,
        kind=VERSION_EXPIRED,
        subject=("version", version_id),
        space_id=located.space.id,
        actor_id=actor_id(actor),
        data={
            "node_id": located.node.id,
            "parent_id": located.node.parent_id,
            "level": int(located.classification),
        },
    )
    return size


def run(
    sessions: sessionmaker[Session],
    *,
    now: dt.datetime | None = None,
    context: AuditContext | None = None,
) -> Outcome:
    """One retention pass over every space: what the rules let go at ``now`` goes."""
    now = now or utcnow()
    context = context or AuditContext.system(SYSTEM)
    outcome = Outcome()
    with unit_of_work(sessions) as session:
        rules = retention_repo.rules(session)
        years = [r.keep_versions_years for r in rules if r.keep_versions_years is not None]
        days = [r.purge_trash_days for r in rules if r.purge_trash_days is not None]
        versions = (
            retention_repo.old_noncurrent_versions(
                session, created_before=retention.years_before(now, min(years)), limit=BATCH
            )
            if years
            else []
        )
        trashed = (
            retention_repo.trashed_before(
                session, before=now - dt.timedelta(days=min(days)), limit=BATCH
            )
            if days
            else []
        )
    by_node: dict[int, list[int]] = {}
    for node_id, version_id in versions:
        by_node.setdefault(node_id, []).append(version_id)
    for node_id, version_ids in by_node.items():
        try:
            _expire_file(sessions, node_id, set(version_ids), now, context, outcome)
        except PolarisError as error:  # one file's failure must not stop the others
            log.warning("retention: versions of node %s kept: %s", node_id, error.detail)
    for node_id in trashed:
        try:
            _purge_trashed(sessions, node_id, now, context, outcome)
        except PolarisError as error:
            log.warning("retention: node %s not purged: %s", node_id, error.detail)
    return outcome


def _expire_file(
    sessions: sessionmaker[Session],
    node_id: int,
    candidates: set[int],
    now: dt.datetime,
    context: AuditContext,
    outcome: Outcome,
) -> None:
    with unit_of_work(sessions) as session:
        located = locate(session, node_id)
        if located is None:
            return
        keep = retention.version_keep_years(session, located)
        if keep is None:
            return
        if holds.holds_over(session, located.node):
            outcome.held += 1
            return
        cutoff = retention.years_before(now, keep)
        ordered = repo.versions_of(session, node_id)
        for version, successor in itertools.pairwise(ordered):
            # It stopped being current when the next version was made.
            if version.id in candidates and successor.created_at <= cutoff:
                size = expire_version(
                    session=session, actor=None, context=context, located=located, version=version
                )
                outcome.expired_versions += 1
                outcome.released_bytes += size


def _purge_trashed(
    sessions: sessionmaker[Session],
    node_id: int,
    now: dt.datetime,
    context: AuditContext,
    outcome: Outcome,
) -> None:
    with unit_of_work(sessions) as session:
        located = locate(session, node_id)
        if located is None or located.node.trashed_at is None:
            return  # purged with a folder that held it, or restored meanwhile
        subtree = repo.subtree(session, located.node)
        keep = retention.trash_keep_days(session, located, subtree)
        if keep is None or located.node.trashed_at > now - dt.timedelta(days=keep):
            return
        if holds.blocking_purge(session, located.node) is not None:
            outcome.held += 1
            return
        size = trash.purge_located(session=session, actor=None, context=context, located=located)
        outcome.purged_nodes += len(subtree)
        outcome.released_bytes += size


def ensure_scheduled(session: Session, *, at: dt.datetime | None = None) -> None:
    """Queue the next pass unless one is already waiting."""
    jobs.enqueue(session, kind=JOB, payload={}, key=JOB, run_after=at or utcnow())


@jobs.handler(JOB)
def run_job(context: jobs.JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    with context.session() as session:
        ensure_scheduled(session, at=utcnow() + RUN_EVERY)
    return run(context.instance.sessions).as_dict()
