"""Lifting the guard's freeze: an administrator may, but never on their own account, frozen or
not (the frozen account's credentials may be the attacker's); the refusal is audited and the
account stays frozen until another administrator (or the command line) lifts it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from polaris.access.policy import Actor
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.db.uow import unit_of_work
from polaris.errors import PermissionDenied
from polaris.identity import freezing
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.resilience import service
from tests.drive.conftest import Drive, drive
from tests.factories import make_user

__all__ = ["drive"]


def actor(drive: Drive, username: str) -> Actor:
    with drive.instance.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return actor_for(session=session, user=user, auth_factors="password")


def is_frozen(drive: Drive, username: str) -> bool:
    with drive.instance.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user.writes_frozen_at is not None


def unfreeze(drive: Drive, by: Actor | None, username: str) -> bool:
    with unit_of_work(drive.instance.sessions) as session:
        return service.unfreeze(
            session=session,
            actor=by,
            context=AuditContext.system(by.username if by else "cli:test"),
            username=username,
        )


def test_a_frozen_administrator_cannot_unfreeze_themselves(drive: Drive) -> None:
    with unit_of_work(drive.instance.sessions) as session:
        make_user(session, "admin.two", unit="PHQ", role="admin")
        freezing.set_writes_frozen(session, user_id=drive.user_ids["admin"], frozen_at=utcnow())
    frozen_admin = actor(drive, "admin")
    assert frozen_admin.writes_frozen

    with pytest.raises(PermissionDenied) as refused:
        unfreeze(drive, frozen_admin, "admin")
    assert refused.value.code == "own_freeze"
    assert is_frozen(drive, "admin")
    with drive.instance.sessions() as session:
        denial = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "guard.unfreeze", AuditRecord.decision == "deny"
            )
        ).one()
    assert (denial.actor_name, denial.object_id, denial.reason) == (
        "admin",
        str(drive.user_ids["admin"]),
        "own_freeze",
    )

    with pytest.raises(PermissionDenied) as not_admin:
        unfreeze(drive, actor(drive, "sho.a1"), "admin")
    assert not_admin.value.code == "admin_required"
    assert is_frozen(drive, "admin")

    assert unfreeze(drive, actor(drive, "admin.two"), "admin") is True
    assert not is_frozen(drive, "admin")


def test_the_command_line_unfreezes_anyone(drive: Drive) -> None:
    with unit_of_work(drive.instance.sessions) as session:
        freezing.set_writes_frozen(session, user_id=drive.user_ids["admin"], frozen_at=utcnow())
    assert unfreeze(drive, None, "admin") is True
    assert not is_frozen(drive, "admin")
