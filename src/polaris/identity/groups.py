"""Groups of users, for sharing with a set of people that is not a unit."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity.models import GroupMember, Unit, User, UserGroup


def create_group(
    *, session: Session, name: str, unit_id: int | None, context: AuditContext
) -> UserGroup:
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > 255:
        raise ValidationFailed("a group needs a name of 1 to 255 characters")
    if session.scalar(select(UserGroup.id).where(UserGroup.name == name)) is not None:
        raise Conflict(f"a group named {name!r} exists", code="group_exists")
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise ValidationFailed(f"there is no unit {unit_id}", code="unit_not_found")
    group = UserGroup(name=name, unit_id=unit_id)
    session.add(group)
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="group.create",
        object_type="group",
        object_id=group.id,
    )
    return group


def add_member(*, session: Session, group_id: int, user_id: int, context: AuditContext) -> None:
    if session.get(UserGroup, group_id) is None:
        raise NotFound("group not found")
    if session.get(User, user_id) is None:
        raise NotFound("user not found")
    if session.get(GroupMember, (group_id, user_id)) is None:
        session.add(GroupMember(group_id=group_id, user_id=user_id))
        session.flush()
    audit.append(
        session=session,
        context=context,
        action="group.add_member",
        object_type="group",
        object_id=group_id,
        detail={"user_id": user_id},
    )


def remove_member(*, session: Session, group_id: int, user_id: int, context: AuditContext) -> None:
    member = session.get(GroupMember, (group_id, user_id))
    if member is None:
        raise NotFound("not a member of this group")
    session.delete(member)
    session.flush()
    audit.append(
        session=session,
        context=context,
        action="group.remove_member",
        object_type="group",
        object_id=group_id,
        detail={"user_id": user_id},
    )


def list_groups(*, session: Session) -> list[tuple[UserGroup, list[int]]]:
    """Every group with its members' user ids (group names are not secret inside the force)."""
    groups = session.scalars(select(UserGroup).order_by(UserGroup.name)).all()
    members: dict[int, list[int]] = {}
    for group_id, user_id in session.execute(select(GroupMember.group_id, GroupMember.user_id)):
        members.setdefault(group_id, []).append(user_id)
    return [(group, sorted(members.get(group.id, []))) for group in groups]


def get_by_name(*, session: Session, name: str) -> UserGroup:
    wanted = unicodedata.normalize("NFC", name.strip())
    found = session.scalars(select(UserGroup).where(UserGroup.name == wanted)).first()
    if found is None:
        raise NotFound("no such group", code="group_not_found")
    return found
