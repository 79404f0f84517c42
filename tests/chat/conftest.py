"""People in the test tree, their actors and audit contexts, for the chat services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris import events
from polaris.access.policy import Actor, Classification
from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from polaris.identity.models import User
from tests.factories import build_tree, make_user

C = Classification
#: name: (unit, role, clearance)
PEOPLE = {
    "asha": ("PS-A1", "constable", C.RESTRICTED),
    "bala": ("PS-A1", "constable", C.UNCLASSIFIED),
    "chand": ("PS-A2", "head_constable", C.RESTRICTED),
    "dev": ("PS-B1", "constable", C.RESTRICTED),
    "sp": ("DST-A", "district_head", C.SECRET),
}


class Who(TypedDict):
    """The ``session``, ``actor`` and ``context`` of a service call."""

    session: Session
    actor: Actor
    context: AuditContext


@dataclass
class People:
    session: Session
    units: dict[str, int]
    users: dict[str, User] = field(default_factory=dict)

    def id(self, name: str) -> int:
        return self.users[name].id

    def actor(self, name: str) -> Actor:
        user = self.session.get(User, self.id(name))
        assert user is not None
        self.session.refresh(user)
        return actor_for(session=self.session, user=user, auth_factors="password")

    def ctx(self, name: str) -> AuditContext:
        return actor_context(self.actor(name), RequestInfo(request_id=f"req-{name}"))

    def who(self, name: str) -> Who:
        """The session, actor and context keyword arguments of a service call by ``name``."""
        return Who(session=self.session, actor=self.actor(name), context=self.ctx(name))


@pytest.fixture
def people(db_session: Session) -> People:
    crowd = People(db_session, build_tree(db_session))
    for name, (unit, role, clearance) in PEOPLE.items():
        crowd.users[name] = make_user(db_session, name, unit=unit, role=role, clearance=clearance)
    db_session.commit()
    return crowd


def stream_since(session: Session, after: int, kinds: Sequence[str]) -> list[events.Event]:
    """Sequence what is waiting and read the events of ``kinds`` after ``after``."""
    events.sequence(session)
    return events.since(session, after=after, kinds=kinds, limit=5000)


def audit_actions(session: Session, prefix: str = "chat.") -> list[str]:
    return list(
        session.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.action.startswith(prefix))
            .order_by(AuditRecord.id)
        )
    )


def denials(session: Session) -> list[tuple[str, str | None, str | None]]:
    rows = session.execute(
        select(AuditRecord.action, AuditRecord.object_id, AuditRecord.reason)
        .where(AuditRecord.decision == "deny")
        .order_by(AuditRecord.id)
    ).all()
    return [(r.action, r.object_id, r.reason) for r in rows]
