"""The checks every request passes before it touches an object: its credentials, and
administration. Decided by ``access.policy``, audited here, raised as the stable error codes.

Like ``service.require``, a denial is audited after the caller's transaction is rolled back
(``polaris.db.uow.after_rollback``): the request dependencies in ``polaris.deps`` and
``polaris.web.pages`` run these checks inside a transaction of their own.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.orm import Session

from polaris.access.policy import (
    Actor,
    Decision,
    Need,
    decide_admin,
    decide_credentials,
    decide_unfreeze,
)
from polaris.audit import service as audit
from polaris.db.uow import after_rollback
from polaris.errors import PermissionDenied

#: The error each refusal answers with: ``code`` and the detail a client reads.
REFUSALS = {
    "password_change_required": "change the password an administrator gave you first",
    "token_not_allowed": "this needs a signed-in session; an API token may not do it",
    "token_scope": "the API token's scopes do not allow this",
    "admin_required": "administrators only",
    "actor_disabled": "the account is disabled",
    "own_freeze": "another administrator must lift the freeze on your own account",
    "writes_frozen": "the ransomware guard froze this account's writes: another administrator "
    "must look and lift the freeze",
}
#: ``object_id`` holds the operation (method and path); the column is this long.
MAX_OPERATION_CHARS = 128


def require_credentials(
    *, session: Session, actor: Actor, need: Need, operation: str, context: audit.AuditContext
) -> None:
    """Return if the request's credentials allow an operation needing ``need``; otherwise audit
    the refusal and raise ``PermissionDenied`` with the reason as its code.

    ``operation`` names what was asked, for the audit record: ``"POST /api/v1/tokens"``.
    """
    decision = decide_credentials(actor, need)
    if not decision.allowed:
        _refuse(session, decision, f"access.{need.value}", operation, context)


def require_admin(
    *,
    session: Session,
    actor: Actor,
    operation: str,
    context: audit.AuditContext,
    changes: bool = True,
) -> None:
    """Return if the actor may administer (see ``policy.decide_admin``: ``changes=False`` only
    for looking); otherwise audit and raise ``PermissionDenied`` (``admin_required``,
    ``writes_frozen``, or the credentials' own reason)."""
    decision = decide_admin(actor, changes=changes)
    if not decision.allowed:
        _refuse(session, decision, "access.admin", operation, context)


def require_unfreeze(
    *, session: Session, actor: Actor, user_id: int, context: audit.AuditContext
) -> None:
    """Return if the actor may lift the guard's freeze on ``user_id`` (``policy.decide_unfreeze``);
    otherwise audit and raise ``PermissionDenied``: ``own_freeze`` (audited as a refused
    ``guard.unfreeze`` of the account) or the administration refusal."""
    decision = decide_unfreeze(actor, user_id=user_id)
    if decision.allowed:
        return
    if decision.reason != "own_freeze":
        _refuse(session, decision, "access.admin", "guard.unfreeze", context)

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action="guard.unfreeze",
            object_type="user",
            object_id=user_id,
            decision="deny",
            reason=decision.reason,
        )

    after_rollback(session, _audit_denial)
    raise PermissionDenied(REFUSALS[decision.reason], code=decision.reason)


def _refuse(
    session: Session,
    decision: Decision,
    action: str,
    operation: str,
    context: audit.AuditContext,
) -> NoReturn:
    code = "admin_required" if decision.reason == "not_admin" else decision.reason

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action=action,
            object_type="operation",
            object_id=operation[:MAX_OPERATION_CHARS],
            decision="deny",
            reason=decision.reason,
        )

    after_rollback(session, _audit_denial)
    raise PermissionDenied(REFUSALS.get(code, "not allowed"), code=code)
