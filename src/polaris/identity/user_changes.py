"""An administrator's changes to an existing account: its details (name, rank, role, clearance)
and its transfer to another unit, each audited and appended to the change stream
(``user.changed``, ``user.moved``) in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.audit import service as audit
from polaris.errors import Conflict
from polaris.identity import events, users
from polaris.identity.models import Role, Unit, User
from polaris.web.messages import N_


@dataclass(frozen=True)
class UserChanges:
    """What an administrator may change about a user (their unit is changed by a transfer)."""

    full_name: str
    rank: str | None
    role: str
    clearance: Classification


def update_user(
    *, session: Session, username: str, changes: UserChanges, context: audit.AuditContext
) -> User:
    """Change a user's name, rank, role and clearance; audited with the fields that changed.

    The same checks as creating one (a name, a known role, a clearance the role allows); a role
    without administration is refused for the last enabled administrator. ``user.changed`` is
    appended when anything changed: a role or clearance is part of what the user reaches.
    """
    user = users.get_by_username(session=session, username=username)
    role = session.get(Role, changes.role)
    full_name = changes.full_name.strip()
    problem = users.check_details(full_name, role, changes.role, changes.clearance)
    if problem:
        raise users.InvalidUser(problem)
    assert role is not None
    if (
        user.role.is_admin
        and not role.is_admin
        and user.disabled_at is None
        and users.enabled_admins(session) <= 1
    ):
        raise Conflict("the last enabled administrator must stay one", code="last_admin")
    wanted = {
        "full_name": full_name,
        "rank": (changes.rank or "").strip() or None,
        "role_code": role.code,
        "clearance": int(changes.clearance),
    }
    changed = sorted(field for field, value in wanted.items() if getattr(user, field) != value)
    for field in changed:
        setattr(user, field, wanted[field])
    session.flush()
    session.refresh(user, ["role"])
    audit.append(
        session=session,
        context=context,
        action="user.update",
        object_type="user",
        object_id=str(user.id),
        detail={"username": user.username, "changed": changed},
    )
    if changed:
        events.changed(
            session, events.USER_CHANGED, ("user", user.id), context, unit_id=user.unit_id
        )
    return user


def move_user(
    *, session: Session, username: str, unit_code: str, context: audit.AuditContext
) -> User:
    """Transfer a user to another unit (a posting).

    Only the user's ``unit_id`` changes. Their personal space is theirs wherever they serve and
    goes with them untouched; files they put in their old unit's space belong to that unit and
    stay there (they lose what they reached through the old unit and gain the new one's).
    Shares made to them by name stay. ``user.moved`` (``unit_id``, ``from_unit_id``) is appended
    in this transaction: the messenger moves them between unit channels and broadcasts from it.
    """
    user = users.get_by_username(session=session, username=username)
    unit = session.scalars(select(Unit).where(Unit.code == unit_code.strip())).one_or_none()
    if unit is None:
        raise users.InvalidUser(
            users.rule_problem(N_("unit %(unit)s is not a known unit"), unit=unit_code)
        )
    old_unit_id = user.unit_id
    if old_unit_id != unit.id:
        user.unit_id = unit.id
        session.flush()
        session.refresh(user, ["unit"])
        events.changed(
            session,
            events.USER_MOVED,
            ("user", user.id),
            context,
            unit_id=unit.id,
            from_unit_id=old_unit_id,
        )
    audit.append(
        session=session,
        context=context,
        action="user.move",
        object_type="user",
        object_id=str(user.id),
        detail={"username": user.username, "from": old_unit_id, "to": unit.id},
    )
    return user
