"""Legal holds: a node and its subtree kept whole for a court or an inquiry.

While a hold is active nothing in its subtree is purged (by an administrator or by the retention
job) and no version of a file in it expires. A purge of a folder *containing* a held node is
refused too: it would take the held node with it. Holds do not stop ordinary work: files can be
edited (a new version is added; none is lost) and moved to the trash (from which they can always
come back, since the trash cannot be purged).

Administrators place and lift holds, always with a reason: a hold overrides retention and purge,
which are administrators' powers, so the same role decides. Both are audited and appended to the
change stream (``node.held``, ``node.released``).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from polaris import events
from polaris.access import gate
from polaris.access.policy import Actor
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.db.uow import after_rollback
from polaris.drive import repo
from polaris.drive._locate import Located, locate
from polaris.drive.events import actor_id
from polaris.drive.models import LegalHold, Node
from polaris.errors import Conflict, NotFound, ValidationFailed

NODE_HELD = "node.held"
NODE_RELEASED = "node.released"
#: The problem code of whatever a hold refuses.
LEGAL_HOLD = "legal_hold"
MAX_REASON_CHARS = 500  # the audit record's reason column


def _reason(text: str, what: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise ValidationFailed(f"give the reason for {what}", code="reason_required")
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationFailed(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return reason


def _require(session: Session, actor: Actor | None, context: AuditContext, operation: str) -> None:
    """Administrators only; ``actor`` None is the command line, run by the instance's operator."""
    if actor is not None:
        gate.require_admin(session=session, actor=actor, operation=operation, context=context)


def _located(session: Session, node_id: int) -> Located:
    located = locate(session, node_id)
    if located is None:
        raise NotFound("node not found")
    return located


def active_hold(session: Session, node_id: int) -> LegalHold | None:
    """The hold placed on this very node, if one is active."""
    return session.scalars(
        select(LegalHold).where(LegalHold.node_id == node_id, LegalHold.released_at.is_(None))
    ).first()


def holds_over(session: Session, node: Node) -> list[LegalHold]:
    """The active holds on the node or a folder above it: what keeps its versions."""
    return list(
        session.scalars(
            select(LegalHold)
            .where(LegalHold.node_id.in_(repo.path_ids(node.path)), LegalHold.released_at.is_(None))
            .order_by(LegalHold.id)
        )
    )


def blocking_purge(session: Session, node: Node) -> LegalHold | None:
    """An active hold that a purge of ``node`` (with its subtree) would break: one on the node, a
    folder above it, or anything below it."""
    below = select(Node.id).where(Node.path.like(f"{node.path}%"))
    return session.scalars(
        select(LegalHold)
        .where(
            LegalHold.released_at.is_(None),
            or_(LegalHold.node_id.in_(repo.path_ids(node.path)), LegalHold.node_id.in_(below)),
        )
        .order_by(LegalHold.id)
        .limit(1)
    ).first()


def refuse_held(
    session: Session, context: AuditContext, located: Located, hold: LegalHold, action: str
) -> None:
    """Raise Conflict ``legal_hold``; the refusal is audited once the transaction is rolled back."""

    def _audit_refusal(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action=action,
            object_type="node",
            object_id=located.node.id,
            classification=located.classification.name.lower(),
            decision="deny",
            reason=LEGAL_HOLD,
            detail={"hold_id": hold.id, "held_node_id": hold.node_id},
        )

    after_rollback(session, _audit_refusal)
    raise Conflict(
        f"a legal hold (on node {hold.node_id}) keeps this; lift it first", code=LEGAL_HOLD
    )


def place_hold(
    *, session: Session, actor: Actor | None, context: AuditContext, node_id: int, reason: str
) -> LegalHold:
    """Hold a node and its subtree. Conflict ``already_held`` if a hold is active on it."""
    _require(session, actor, context, "node.hold")
    reason = _reason(reason, "the legal hold")
    located = _located(session, node_id)
    if active_hold(session, node_id) is not None:
        raise Conflict("this node is already under a legal hold", code="already_held")
    hold = LegalHold(node_id=node_id, reason=reason, held_by=actor_id(actor), held_at=utcnow())
    session.add(hold)
    session.flush()
    audit_hold(session, context, located, "node.hold", reason, hold)
    _append(session, NODE_HELD, located, hold, actor)
    return hold


def release_hold(
    *, session: Session, actor: Actor | None, context: AuditContext, node_id: int, reason: str
) -> LegalHold:
    """Lift the active hold on a node. Conflict ``not_held`` if there is none."""
    _require(session, actor, context, "node.release")
    reason = _reason(reason, "lifting the legal hold")
    hold = active_hold(session, node_id)
    if hold is None:
        raise Conflict("this node is not under a legal hold", code="not_held")
    hold.released_at = utcnow()
    hold.released_by = actor_id(actor)
    hold.release_reason = reason
    session.flush()
    located = locate(session, node_id)
    if located is not None:  # a held node cannot be purged, but its record outlives it anyway
        audit_hold(session, context, located, "node.release", reason, hold)
        _append(session, NODE_RELEASED, located, hold, actor)
    return hold


def audit_hold(
    session: Session,
    context: AuditContext,
    located: Located,
    action: str,
    reason: str,
    hold: LegalHold,
) -> None:
    audit.append(
        session=session,
        context=context,
        action=action,
        object_type="node",
        object_id=located.node.id,
        classification=located.classification.name.lower(),
        reason=reason,
        detail={"hold_id": hold.id},
    )


def _append(
    session: Session, kind: str, located: Located, hold: LegalHold, actor: Actor | None
) -> None:
    events.append(
        session,
        kind=kind,
        subject=("node", located.node.id),
        space_id=located.space.id,
        actor_id=actor_id(actor),
        data={
            "parent_id": located.node.parent_id,
            "level": int(located.classification),
            "hold_id": hold.id,
        },
    )


def list_holds(
    *, session: Session, actor: Actor | None, context: AuditContext, active_only: bool = True
) -> list[LegalHold]:
    """The holds on files and folders (the messenger's are ``chat.retention.list_holds``)."""
    _require(session, actor, context, "node.holds")
    query = select(LegalHold).where(LegalHold.node_id.is_not(None)).order_by(LegalHold.id)
    if active_only:
        query = query.where(LegalHold.released_at.is_(None))
    return list(session.scalars(query))
