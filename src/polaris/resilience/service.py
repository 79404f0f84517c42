"""The guard's use cases: freeze (from the consumer), the administrators' list of frozen accounts,
restoring what an account changed since a time, unfreezing, and marking canaries.

The freeze is a flag on the user (``identity.freezing``) that ``access`` reads with every actor:
drive's writes are refused by the one policy, and drive knows nothing of the guard.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from polaris.access import gate
from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.drive import content, history
from polaris.errors import NotFound, PolarisError
from polaris.identity import freezing, users
from polaris.identity.actors import actor_for
from polaris.resilience import places, repo
from polaris.resilience.models import GuardAccount
from polaris.resilience.places import PlacesRestored
from polaris.storage.store import BlobStore

log = logging.getLogger("polaris.resilience")

#: Who freezes: the guard itself, in the audit log.
GUARD_CONTEXT = AuditContext.system("guard")


def freeze(session: Session, state: GuardAccount, *, reason: str) -> bool:
    """Freeze the account's writes (in the caller's transaction); whether it was not yet frozen.
    Audited, and logged at WARNING for the administrators' alerting."""
    now = utcnow()
    if not freezing.set_writes_frozen(session, user_id=state.user_id, frozen_at=now):
        return False
    state.frozen_at = now
    kinds = Counter(f for item in state.evidence for f in item.get("findings", []))  # type: ignore[attr-defined]
    audit.append(
        session=session,
        context=GUARD_CONTEXT,
        action="guard.freeze",
        object_type="user",
        object_id=state.user_id,
        reason=reason,
        detail={"score": state.score, "findings": dict(sorted(kinds.items()))},
    )
    log.warning(
        "ransomware guard froze the writes of user %s (%s, score %s, findings %s)",
        state.user_id,
        reason,
        state.score,
        dict(kinds),
    )
    return True


@dataclass(frozen=True)
class Frozen:
    """A frozen account, with the evidence that froze it, for the administrators' page."""

    user_id: int
    username: str
    frozen_at: dt.datetime
    score: int
    evidence: list[dict[str, object]] = field(default_factory=list)


def frozen_accounts(session: Session) -> list[Frozen]:
    found = freezing.frozen_users(session)
    states = repo.accounts(session, [user.id for user in found])
    result = []
    for user in found:
        assert user.writes_frozen_at is not None
        state = states.get(user.id)
        result.append(
            Frozen(
                user_id=user.id,
                username=user.username,
                frozen_at=user.writes_frozen_at,
                score=state.score if state else 0,
                evidence=list(reversed(state.evidence)) if state else [],
            )
        )
    return result


def unfreeze(
    *, session: Session, actor: Actor | None, context: AuditContext, username: str
) -> bool:
    """Let the account write again and start its window afresh; whether it was frozen.

    ``actor`` None is the command line (the instance's operator). Otherwise an administrator,
    and never on their own account (``access.policy.decide_unfreeze``: a frozen administrator's
    credentials may be the attacker's); refusals are audited.
    """
    if actor is not None:
        gate.require_admin(  # the freeze itself is judged by require_unfreeze below
            session=session, actor=actor, operation="guard.unfreeze", context=context, changes=False
        )
    user = users.get_by_username(session=session, username=username)
    if actor is not None:
        gate.require_unfreeze(session=session, actor=actor, user_id=user.id, context=context)
    changed = freezing.set_writes_frozen(session, user_id=user.id, frozen_at=None)
    state = repo.lock_account(session, user.id)
    state.recent, state.score, state.frozen_at = [], 0, None
    audit.append(
        session=session,
        context=context,
        action="guard.unfreeze",
        object_type="user",
        object_id=user.id,
        detail={"was_frozen": changed},
    )
    return changed


@dataclass
class Restored:
    """What a restore did: files given back their earlier content, files already as they were,
    files the account created after the time (left alone), files that could not be restored."""

    restored: int = 0
    unchanged: int = 0
    created_since: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    #: Names, folders and deletions put back (``places``), before the content.
    places: PlacesRestored = field(default_factory=PlacesRestored)


def restore_since(
    *,
    session: Session,
    context: AuditContext,
    blobs: BlobStore,
    username: str,
    since: dt.datetime,
) -> Restored:
    """Undo what ``username`` did to files at or after ``since``: deleted, renamed and moved
    nodes go back where they were (``places``), then every file the account added a version to
    gets the content it had just before, as a new version (nothing is overwritten;
    ``drive.content.restore_version`` audits each).

    Runs as the account, so the drive's own rules apply, with its freeze lifted for this call
    only; the audit records name ``context`` (the administrator). Running it again changes
    nothing: a file whose content is already the earlier one is counted ``unchanged``.
    """
    user = users.get_by_username(session=session, username=username)
    actor = dataclasses.replace(
        actor_for(session=session, user=user, auth_factors="guard"), writes_frozen=False
    )
    report = Restored()
    report.places = places.restore_places(
        session=session,
        actor=actor,
        context=context,
        places=places.places_before(session, user_id=user.id, since=since),
    )
    for node_id in history.files_changed_since(session, user_id=user.id, since=since):
        before = history.version_at(session, node_id=node_id, at=since)
        if before is None:
            report.created_since += 1
            continue
        if history.current_sha256(session, node_id) == before.sha256:
            report.unchanged += 1
            continue
        try:
            with session.begin_nested():
                content.restore_version(
                    session=session,
                    actor=actor,
                    context=context,
                    blobs=blobs,
                    node_id=node_id,
                    version_id=before.id,
                )
        except PolarisError as error:
            report.failed.append((node_id, error.code))
            continue
        report.restored += 1
    audit.append(
        session=session,
        context=context,
        action="guard.restore",
        object_type="user",
        object_id=user.id,
        detail={
            "since": since.isoformat(),
            "restored": report.restored,
            "unchanged": report.unchanged,
            "created_since": report.created_since,
            "failed": len(report.failed),
            "untrashed": report.places.untrashed,
            "renamed": report.places.renamed,
            "moved": report.places.moved,
            "places_failed": len(report.places.failed),
        },
    )
    return report


def mark_canary(*, session: Session, context: AuditContext, node_id: int) -> bool:
    """Mark a file as a canary; whether it was not one already."""
    if history.node_name(session, node_id) is None:
        raise NotFound("file not found")
    added = repo.add_canary(
        session, node_id, context.actor_id if isinstance(context.actor_id, int) else None
    )
    audit.append(
        session=session,
        context=context,
        action="guard.canary",
        object_type="node",
        object_id=node_id,
        detail={"added": added},
    )
    return added
