"""``require``: denials raise the right error and are audited although the action rolls back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access import service as access
from polaris.access.policy import Action, Actor, Classification, Grant, Permission, Resource
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


def test_deciding_many_at_once_agrees_with_deciding_each() -> None:
    """``can_each`` decides resources that differ only in their id once: the answers must be
    those of ``can``, one by one, whatever else differs (level, unit, owner, shares, scan)."""
    actor = Actor(
        user_id=7, username="si.a1", unit_id=5, role_code="sub_inspector",
        clearance=Classification.CONFIDENTIAL, unit_actions=frozenset({Action.READ}),
        subtree_actions=frozenset({Action.READ}), descendant_unit_ids=frozenset({6}),
    )  # fmt: skip
    soon = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    resources = [
        Resource(kind="node", id=str(n), unit_id=unit, classification=Classification(level),
                 owner_id=owner, grants=grants, scan_state=scan, uploader_id=uploader)
        for n, (unit, level, owner, grants, scan, uploader) in enumerate(
            [
                (5, 0, None, (), None, None),
                (5, 0, None, (), None, None),  # the same shape, another id
                (5, 3, None, (), None, None),  # above clearance
                (6, 2, None, (), None, None),  # below, by reach
                (9, 0, None, (), None, None),  # sideways
                (9, 0, None, (Grant("user", 7, Permission.READ, expires_at=soon),), None, None),
                (9, 0, None, (Grant("user", 7, Permission.READ, expires_at=past),), None, None),
                (None, 0, 7, (), None, None),  # their own space
                (None, 0, 8, (), None, None),  # a colleague's
                (5, 0, None, (), "pending", 7),  # held, but theirs
                (5, 0, None, (), "pending", 8),
                (5, 0, None, (), "infected", 7),
            ]
        )
    ]  # fmt: skip
    each = [access.can(actor, Action.READ, resource) for resource in resources]
    assert access.can_each(actor, Action.READ, resources) == each
    assert each == [True, True, False, True, False, True, False, True, False, True, False, False]
