"""``require``: denials raise the right error and are audited although the action rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Classification, Resource
from polaris.audit.models import AuditRecord
from polaris.db.uow import transaction
from polaris.errors import NotFound, PermissionDenied
from polaris.identity.actors import RequestInfo, actor_context, actor_for
from tests.factories import build_tree, make_user


def denials(session: Session) -> list[tuple[str, str | None, str | None]]:
    rows = session.execute(
        select(AuditRecord.action, AuditRecord.object_id, AuditRecord.reason).where(
            AuditRecord.decision == "deny"
        )
    ).all()
    return [(r.action, r.object_id, r.reason) for r in rows]


def test_outside_reach_is_not_found_and_the_denial_is_audited(db_session: Session) -> None:
    ids = build_tree(db_session)
    user = make_user(db_session, "ct.a1", unit="PS-A1")
    actor = actor_for(session=db_session, user=user, auth_factors="password")
    context = actor_context(actor, RequestInfo(source_address="10.0.0.9", request_id="q"))
    elsewhere = Resource(kind="document", id="doc-7", unit_id=ids["PS-B1"])
    db_session.commit()
    with pytest.raises(NotFound), transaction(db_session):
        access.require(
            session=db_session,
            actor=actor,
            action=Action.READ,
            resource=elsewhere,
            context=context,
        )
    assert denials(db_session) == [("document.read", "doc-7", "no_reach")]


def test_visible_but_not_allowed_is_permission_denied(db_session: Session) -> None:
    ids = build_tree(db_session)
    user = make_user(db_session, "ct.a1", unit="PS-A1")  # constables read, they do not write
    actor = actor_for(session=db_session, user=user, auth_factors="password")
    context = actor_context(actor, RequestInfo())
    own = Resource(kind="document", id="doc-8", unit_id=ids["PS-A1"])
    access.require(
        session=db_session, actor=actor, action=Action.READ, resource=own, context=context
    )
    db_session.commit()
    with pytest.raises(PermissionDenied), transaction(db_session):
        access.require(
            session=db_session, actor=actor, action=Action.WRITE, resource=own, context=context
        )
    assert denials(db_session) == [("document.write", "doc-8", "no_reach")]


def test_supervisor_reads_below_but_not_sideways(db_session: Session) -> None:
    ids = build_tree(db_session)
    sp = make_user(
        db_session, "sp.a", unit="DST-A", role="district_head", clearance=Classification.SECRET
    )
    actor = actor_for(session=db_session, user=sp, auth_factors="password+totp")
    assert access.can(actor, Action.READ, Resource(kind="d", id="1", unit_id=ids["PS-A2"]))
    assert not access.can(actor, Action.WRITE, Resource(kind="d", id="1", unit_id=ids["PS-A2"]))
    assert not access.can(actor, Action.READ, Resource(kind="d", id="2", unit_id=ids["PS-B1"]))
    assert not access.can(actor, Action.READ, Resource(kind="d", id="3", unit_id=ids["RNG-A"]))
