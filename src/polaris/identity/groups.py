"""Groups of users, for sharing with a set of people that is not a unit.

Administrators make groups and choose their members; everyone else sees only the groups
``access.policy.group_reach`` gives them.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from polaris.access.policy import Actor, group_reach
from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity import events
from polaris.identity.models import GroupMember, Unit, User, UserGroup


def create_group(
    *, session: Session, name: str, unit_id: int | None, context: AuditContext
) -> UserGroup:
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > 255:
        raise ValidationFailed("a group needs a name of 1 to 255 characters", code="group_name")
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
    events.changed(session, events.GROUP_CREATED, ("group", group.id), context, unit_id=unit_id)
    return group


def add_member(*, session: Session, group_id: int, user_id: int, context: AuditContext) -> None:
    if session.get(UserGroup, group_id) is None:
        raise NotFound("group not found")
    if session.get(User, user_id) is None:
        raise NotFound("user not found")
    if session.get(GroupMember, (group_id, user_id)) is None:
        session.add(GroupMember(group_id=group_id, user_id=user_id))
        session.flush()
        events.changed(
            session, events.GROUP_MEMBER_ADDED, ("group", group_id), context, user_id=user_id
        )
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
        raise NotFound("not a member of this group", code="not_a_member")
    session.delete(member)
    session.flush()
    events.changed(
        session, events.GROUP_MEMBER_REMOVED, ("group", group_id), context, user_id=user_id
    )
    audit.append(
        session=session,
        context=context,
        action="group.remove_member",
        object_type="group",
        object_id=group_id,
        detail={"user_id": user_id},
    )


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The groups ``actor`` may see (``access.policy.group_reach``), as a WHERE clause."""
    reach = group_reach(actor)
    if reach.every_group:
        return true()
    return or_(
        UserGroup.id.in_(sorted(reach.member_of)),
        UserGroup.unit_id.in_(sorted(reach.unit_ids)),
    )


def list_groups(*, session: Session, actor: Actor) -> list[tuple[UserGroup, list[int]]]:
    """The groups ``actor`` may see, each with its members' user ids.

    Filtered in the query (DESIGN rule 2): members see their groups, a group's unit and the
    supervisors above it see it, administrators see all (``access.policy.decide_group``).
    """
    groups = session.scalars(
        select(UserGroup).where(visible_to(actor)).order_by(UserGroup.name)
    ).all()
    members: dict[int, list[int]] = {}
    ids = [group.id for group in groups]
    for group_id, user_id in session.execute(
        select(GroupMember.group_id, GroupMember.user_id).where(GroupMember.group_id.in_(ids))
    ):
        members.setdefault(group_id, []).append(user_id)
    return [(group, sorted(members.get(group.id, []))) for group in groups]


def get_group(*, session: Session, actor: Actor, group_id: int) -> UserGroup:
    """A group ``actor`` may see, by id; one they may not see is "no such group"."""
    found = session.scalars(
        select(UserGroup).where(UserGroup.id == group_id, visible_to(actor))
    ).first()
    if found is None:
        raise NotFound("no such group", code="group_not_found")
    return found


def get_by_name(*, session: Session, actor: Actor, name: str) -> UserGroup:
    """A group ``actor`` may see, by name; one they may not see is "no such group"."""
    wanted = unicodedata.normalize("NFC", name.strip())
    found = session.scalars(
        select(UserGroup).where(UserGroup.name == wanted, visible_to(actor))
    ).first()
    if found is None:
        raise NotFound("no such group", code="group_not_found")
    return found


def member_ids(*, session: Session, group_id: int) -> list[int]:
    """The user ids of a group's members (the caller has been allowed to see the group)."""
    return sorted(
        session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group_id))
    )
