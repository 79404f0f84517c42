"""``require``: decide, audit the decision, and raise the right error on denial.

Allowed actions are audited by the calling service together with its work (it knows the version
hash and outcome); denials are audited here, in a transaction of their own after the caller's is
rolled back (see ``polaris.db.uow``), because the denial error aborts the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from operator import attrgetter
from typing import NoReturn

from sqlalchemy.orm import Session

from polaris.access.policy import (
    SCAN_QUARANTINED,
    SCAN_REASONS,
    Action,
    Actor,
    ChatAction,
    ChatRoomFacts,
    Resource,
    decide,
    decide_broadcast,
    decide_chat,
    decide_chat_export,
    decide_chat_start,
    decide_group,
    decide_scan,
    decide_usage,
)
from polaris.audit import service as audit
from polaris.clock import utcnow
from polaris.db.uow import after_rollback
from polaris.errors import NotFound, PermissionDenied

#: The detail of a refusal while the account's writes are frozen (the UI shows the code's text).
FROZEN_DETAIL = (
    "the account's writes are frozen: the ransomware guard saw signs of encryption in progress; "
    "an administrator must restore and unfreeze it"
)


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
    they may read it but not do this. Content held by the malware scan (policy rule 8) is refused
    with its own code, ``file_quarantined`` or ``scan_pending``: rule 8 applies only to someone
    the other rules allowed, who may know the file exists.
    """
    now = utcnow()
    decision = decide(actor, action, resource, now=now)
    if decision.allowed:
        return
    visible = decision.reason in SCAN_REASONS or (
        action is not Action.READ and decide(actor, Action.READ, resource, now=now).allowed
    )
    _refuse(session, context, action, resource, decision.reason, visible)


def require_scan_cleared(
    *,
    session: Session,
    actor: Actor,
    action: Action,
    resource: Resource,
    context: audit.AuditContext,
) -> None:
    """Rule 8 alone (``policy.decide_scan``) for content another decision already let the actor
    read, such as an attachment the room authorised: refused like ``require`` refuses held
    content (403 ``file_quarantined`` or ``scan_pending``, audited), since the actor may know the
    file exists."""
    decision = decide_scan(actor, action, resource)
    if not decision.allowed:
        _refuse(session, context, action, resource, decision.reason, True)


def _refuse(
    session: Session,
    context: audit.AuditContext,
    action: Action,
    resource: Resource,
    reason: str,
    visible: bool,
) -> NoReturn:
    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action=f"{resource.kind}.{action.value}",
            object_type=resource.kind,
            object_id=resource.id,
            classification=resource.classification.name.lower(),
            decision="deny",
            reason=reason,
        )

    after_rollback(session, _audit_denial)
    if reason == SCAN_QUARANTINED:
        raise PermissionDenied(
            "this file's content was found to contain malware and is quarantined",
            code="file_quarantined",
        )
    if reason in SCAN_REASONS:
        raise PermissionDenied(
            "this file is waiting for its malware scan; try again later", code="scan_pending"
        )
    if visible and reason == "writes_frozen":
        raise PermissionDenied(FROZEN_DETAIL, code="writes_frozen")
    if visible:
        # A refused lowering answers as any refused classification (the audit says which).
        verb = Action.CLASSIFY if action is Action.DECLASSIFY else action
        raise PermissionDenied(f"you may not {verb.value} this {resource.kind}")
    raise NotFound(f"{resource.kind} not found")


def can(actor: Actor, action: Action, resource: Resource) -> bool:
    """For filtering what to show (never instead of ``require`` before acting)."""
    return decide(actor, action, resource, now=utcnow()).allowed


#: Every field of a resource but its id: what a decision depends on (a field added later counts).
_deciding_fields = attrgetter(*(item.name for item in fields(Resource) if item.name != "id"))


def can_each(actor: Actor, action: Action, resources: Iterable[Resource]) -> list[bool]:
    """:func:`can` for many resources at once, in their order (search checks up to 1,100 matches
    and HQ's 1,050 space roots on every request).

    One reading of the clock for all of them, and resources that differ only in their id are
    decided once: no rule looks at the id (``policy.decide``), and a thousand matches come from a
    few dozen spaces, levels and shares. Like :func:`can`, for filtering what to show: what is
    left out is not audited one by one (the search that filtered is).
    """
    now = utcnow()
    decided: dict[object, bool] = {}
    answers = []
    for resource in resources:
        key = _deciding_fields(resource)
        allowed = decided.get(key)
        if allowed is None:
            allowed = decided[key] = decide(actor, action, resource, now=now).allowed
        answers.append(allowed)
    return answers


def can_chat(actor: Actor, action: ChatAction, room: ChatRoomFacts) -> bool:
    """For filtering what to show of rooms (a notification of one): never instead of
    ``require_chat`` before acting."""
    return decide_chat(actor, action, room).allowed


def can_see_group(actor: Actor, *, group_id: int, unit_id: int | None) -> bool:
    """Whether ``actor`` may see a group (``policy.decide_group``): a group they may not see is
    answered as missing wherever it is named, a share's subject included."""
    return decide_group(actor, group_id=group_id, unit_id=unit_id).allowed


def can_see_usage(actor: Actor, whole_space: Resource) -> bool:
    """Whether a space's quota figures are shown to ``actor`` (``policy.decide_usage``)."""
    return decide_usage(actor, whole_space, now=utcnow()).allowed


def deny_missing(
    *,
    session: Session,
    actor: Actor,
    kind: str,
    object_id: int | str,
    action: Action,
    context: audit.AuditContext,
) -> NoReturn:
    """Audit an attempt on an object that does not exist as a denial (reason ``missing``) and
    raise ``NotFound``, exactly as :func:`require` treats an object the actor may not see.

    A denial of a hidden object writes an audit record after the rollback; if a missing id wrote
    nothing, the time of the answer would tell the two apart (a timing oracle). Asking for ids
    that do not exist is worth recording anyway: it is what probing looks like. ``actor`` is
    part of the call so that both paths take the same arguments; the record's actor comes from
    ``context``.
    """
    del actor  # the context names the actor; kept for the symmetry with ``require``

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action=f"{kind}.{action.value}",
            object_type=kind,
            object_id=object_id,
            decision="deny",
            reason="missing",
        )

    after_rollback(session, _audit_denial)
    raise NotFound(f"{kind} not found")


#: What a refused chat request is told when the actor is not in the room: exactly what a missing
#: room answers (``polaris.chat`` raises the same for an id that does not exist).
CHAT_ROOM_MISSING = "room not found"


def require_chat(
    *,
    session: Session,
    actor: Actor,
    action: ChatAction,
    room: ChatRoomFacts,
    context: audit.AuditContext,
) -> None:
    """Return if ``actor`` may do ``action`` in the room; otherwise audit and raise.

    A room the actor is not in, or one that does not exist (``room.membership`` None and
    ``room.kind`` ``"missing"``), raises the same ``NotFound`` after writing the same denial
    record, so neither the answer nor its time tells them apart. A member refused something
    (sending into a broadcast, moderating) gets ``PermissionDenied``.
    """
    decision = decide_chat(actor, action, room)
    if decision.allowed:
        return
    reason = "missing" if room.kind == "missing" else decision.reason

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action=f"chat_room.{action.value}",
            object_type="chat_room",
            object_id=room.room_id,
            classification=room.classification.name.lower(),
            decision="deny",
            reason=reason,
        )

    after_rollback(session, _audit_denial)
    in_room = room.membership == "join" or (
        room.membership == "invite" and decision.reason != "not_member"
    )
    if decision.reason == "writes_frozen" and room.membership in ("join", "invite"):
        raise PermissionDenied(FROZEN_DETAIL, code="writes_frozen")
    if decision.reason == "clearance":
        raise NotFound("attachment not found", code="not_found")
    if not in_room:
        raise NotFound(CHAT_ROOM_MISSING, code="not_found")
    raise PermissionDenied(f"you may not {action.value} in this room")


def require_chat_export(
    *, session: Session, actor: Actor, room: ChatRoomFacts, context: audit.AuditContext
) -> None:
    """Return if the actor may export the room (``policy.decide_chat_export``); otherwise audit
    the denial and raise the ``NotFound`` a missing room gets, whatever the reason: a
    non-administrator learns nothing of which rooms exist."""
    decision = decide_chat_export(actor, room)
    if decision.allowed:
        return

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action="chat_room.export",
            object_type="chat_room",
            object_id=room.room_id,
            decision="deny",
            reason=decision.reason,
        )

    after_rollback(session, _audit_denial)
    raise NotFound(CHAT_ROOM_MISSING, code="not_found")


def require_broadcast(
    *, session: Session, actor: Actor, unit_id: int, context: audit.AuditContext
) -> None:
    """Return if the actor may open a broadcast from ``unit_id``; else audit and refuse."""
    decision = decide_broadcast(actor, unit_id=unit_id)
    if decision.allowed:
        return

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action="chat_room.broadcast",
            object_type="unit",
            object_id=unit_id,
            decision="deny",
            reason=decision.reason,
        )

    after_rollback(session, _audit_denial)
    if decision.reason == "writes_frozen":
        raise PermissionDenied(FROZEN_DETAIL, code="writes_frozen")
    raise PermissionDenied("you may not broadcast from this unit")


def require_chat_start(*, session: Session, actor: Actor, context: audit.AuditContext) -> None:
    """Return if the actor may start a room (``policy.decide_chat_start``); else audit, refuse."""
    decision = decide_chat_start(actor)
    if decision.allowed:
        return

    def _audit_denial(audit_session: Session) -> None:
        audit.append(
            session=audit_session,
            context=context,
            action="chat_room.create",
            object_type="chat_room",
            decision="deny",
            reason=decision.reason,
        )

    after_rollback(session, _audit_denial)
    if decision.reason == "writes_frozen":
        raise PermissionDenied(FROZEN_DETAIL, code="writes_frozen")
    code = "token_scope" if decision.reason == "token_scope" else "permission_denied"
    raise PermissionDenied("you may not start a room", code=code)
