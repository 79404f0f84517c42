"""``require``: decide, audit the decision, and raise the right error on denial.

Allowed actions are audited by the calling service together with its work (it knows the version
hash and outcome); denials are audited here, in a transaction of their own after the caller's is
rolled back (see ``polaris.db.uow``), because the denial error aborts the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.access.policy import Action, Actor, Resource, decide
from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.db.uow import after_rollback
from polaris.errors import NotFound, PermissionDenied


def require(
    *,
    session: Session,
    actor: Actor,
    action: Action,
    resource: Resource,
    context: audit.AuditContext,
) -> None:
    """Return if ``actor`` may do ``action`` to ``resource``; otherwise audit and raise.

    Raises ``NotFound`` when the actor may not even read the resource, ``PermissionDenied`` when
    they may read it but not do this.
    """
    now = utcnow()
    decision = decide(actor, action, resource, now=now)
    if decision.allowed:
        return
    visible = action is not Action.READ and decide(actor, Action.READ, resource, now=now).allowed

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action=f"{resource.kind}.{action.value}",
            object_type=resource.kind,
            object_id=resource.id,
            classification=resource.classification.name.lower(),
            decision="deny",
            reason=decision.reason,
        )

    after_rollback(session, _audit_denial)
    if visible:
        raise PermissionDenied(f"you may not {action.value} this {resource.kind}")
    raise NotFound(f"{resource.kind} not found")


def can(actor: Actor, action: Action, resource: Resource) -> bool:
    """For filtering what to show (never instead of ``require`` before acting)."""
    return decide(actor, action, resource, now=utcnow()).allowed
