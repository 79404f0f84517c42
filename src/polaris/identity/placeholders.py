"""Units and accounts standing in for those a lost database held (``polaris recover``).

A recovery without the database knows a space's unit or owner only by the lost id and the space's
name (placement records, docs/storage-format.md §8a). So that the rebuilt spaces keep those ids,
each gets a placeholder under one ``RECOVERED`` unit: a unit named as its space, or a *disabled*
account without a password named as its personal space (which is the username). An administrator
then renames, moves or merges the units and enables the accounts, with new passwords, once the
people are known again; nobody can sign in as a placeholder before that.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.context import AuditContext
from polaris.clock import utcnow
from polaris.identity import events, units
from polaris.identity.models import Role, Unit, User
from polaris.identity.users import normalise_username

RECOVERED_CODE = "RECOVERED"
#: A placeholder's role: the least one; clearance none (an administrator sets both).
PLACEHOLDER_ROLE = "constable"


def recovered_unit(session: Session, *, unit_id: int, context: AuditContext) -> Unit:
    """The top unit of a recovered instance, holding the recovery's administrator and every
    placeholder unit."""
    spec = units.UnitSpec(RECOVERED_CODE, "Recovered", units.UnitKind.HQ, None)
    unit = units._insert(session, spec, None, unit_id=unit_id)
    events.changed(session, events.UNIT_CREATED, ("unit", unit.id), context, parent_id=None)
    return unit


def placeholder_unit(
    session: Session, *, unit_id: int, name: str, parent: Unit, context: AuditContext
) -> Unit:
    spec = units.UnitSpec(
        f"{RECOVERED_CODE}-{unit_id}", name[:255] or f"unit {unit_id}", units.UnitKind.BRANCH,
        parent.code,
    )  # fmt: skip
    unit = units._insert(session, spec, parent, unit_id=unit_id)
    events.changed(session, events.UNIT_CREATED, ("unit", unit.id), context, parent_id=parent.id)
    return unit


def placeholder_user(
    session: Session,
    *,
    user_id: int,
    username: str,
    unit: Unit,
    context: AuditContext,
    reserved: Collection[str] = (),
) -> User:
    """A disabled account without a password; ``username`` is made unique if it is taken (or
    ``reserved``: the name an account made later will have)."""
    wanted = re.sub(r"[^a-z0-9._-]+", "-", normalise_username(username)).strip("._-")[:56]
    if len(wanted) < 2:
        wanted = f"user{user_id}"
    name, number = wanted, 1
    while name in reserved or session.scalars(select(User.id).where(User.username == name)).first():
        number += 1
        name = f"{wanted}-{number}"
    role = session.get(Role, PLACEHOLDER_ROLE)
    assert role is not None, "the default roles are made with the database"
    now = utcnow()
    user = User(
        id=user_id,
        username=name,
        full_name=username[:255] or name,
        unit_id=unit.id,
        role_code=role.code,
        clearance=0,
        password_hash=None,
        must_change_password=True,
        disabled_at=now,
        created_at=now,
    )
    session.add(user)
    session.flush()
    events.changed(session, events.USER_CREATED, ("user", user.id), context, unit_id=unit.id)
    return user
