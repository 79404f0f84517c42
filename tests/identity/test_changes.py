"""Editing and transferring users, renaming and moving units: the checks, the audit records and
the change events (``user.changed``, ``user.moved``, ``unit.changed``, ``unit.moved``) that
consumers such as the messenger's ``chat.hierarchy`` follow."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.audit.models import AuditRecord
from polaris.errors import Conflict, NotFound, ValidationFailed
from polaris.identity import units, user_changes, users
from polaris.identity.models import UnitClosure
from tests.factories import SYSTEM, build_tree, make_user
from tests.support.events import EventLog


def actions(session: Session, action: str) -> list[AuditRecord]:
    return list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))


def test_an_edit_changes_details_audits_and_appends_user_changed(db_session: Session) -> None:
    ids = build_tree(db_session)
    user = make_user(db_session, "ct.a1")
    log = EventLog(db_session)
    changes = user_changes.UserChanges(
        full_name="Ravi Sharma",
        rank="SI",
        role="sub_inspector",
        clearance=Classification.CONFIDENTIAL,
    )
    user_changes.update_user(session=db_session, username="ct.a1", changes=changes, context=SYSTEM)
    assert (user.full_name, user.rank, user.role_code, user.clearance) == (
        "Ravi Sharma",
        "SI",
        "sub_inspector",
        2,
    )
    assert log.take() == [("user.changed", ("user", user.id), None, {"unit_id": ids["PS-A1"]})]
    [record] = actions(db_session, "user.update")
    assert record.detail is not None and "clearance" in record.detail
    user_changes.update_user(session=db_session, username="ct.a1", changes=changes, context=SYSTEM)
    assert log.take() == []  # nothing changed, nothing to follow


def test_an_edit_is_checked_like_a_new_user(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "ct.a1")
    too_high = user_changes.UserChanges("Ct A1", None, "constable", Classification.SECRET)
    with pytest.raises(users.InvalidUser) as raised:
        user_changes.update_user(
            session=db_session, username="ct.a1", changes=too_high, context=SYSTEM
        )
    assert raised.value.problem.text == "clearance %(level)s is above what role %(role)s allows"
    no_role = user_changes.UserChanges("Ct A1", None, "no_such_role", Classification.UNCLASSIFIED)
    with pytest.raises(users.InvalidUser):
        user_changes.update_user(
            session=db_session, username="ct.a1", changes=no_role, context=SYSTEM
        )
    nameless = user_changes.UserChanges("  ", None, "constable", Classification.UNCLASSIFIED)
    with pytest.raises(users.InvalidUser):
        user_changes.update_user(
            session=db_session, username="ct.a1", changes=nameless, context=SYSTEM
        )


def test_the_last_administrator_keeps_the_role(db_session: Session) -> None:
    build_tree(db_session)
    make_user(db_session, "admin.one", unit="PHQ", role="admin")
    demote = user_changes.UserChanges("Admin", None, "constable", Classification.UNCLASSIFIED)
    with pytest.raises(Conflict) as raised:
        user_changes.update_user(
            session=db_session, username="admin.one", changes=demote, context=SYSTEM
        )
    assert raised.value.code == "last_admin"


def test_a_transfer_moves_the_user_and_appends_user_moved(db_session: Session) -> None:
    ids = build_tree(db_session)
    user = make_user(db_session, "ct.a1")
    log = EventLog(db_session)
    user_changes.move_user(session=db_session, username="ct.a1", unit_code="PS-B1", context=SYSTEM)
    assert user.unit_id == ids["PS-B1"]
    assert log.take() == [
        (
            "user.moved",
            ("user", user.id),
            None,
            {"unit_id": ids["PS-B1"], "from_unit_id": ids["PS-A1"]},
        )
    ]
    [record] = actions(db_session, "user.move")
    assert record.detail is not None and f'"to":{ids["PS-B1"]}' in record.detail
    user_changes.move_user(session=db_session, username="ct.a1", unit_code="PS-B1", context=SYSTEM)
    assert log.take() == []
    with pytest.raises(users.InvalidUser):
        user_changes.move_user(
            session=db_session, username="ct.a1", unit_code="PS-Z9", context=SYSTEM
        )


def closure(session: Session, unit_id: int) -> set[tuple[int, int]]:
    return set(
        (ancestor, depth)
        for ancestor, depth in session.execute(
            select(UnitClosure.ancestor_id, UnitClosure.depth).where(
                UnitClosure.descendant_id == unit_id
            )
        ).all()
    )


def test_moving_a_unit_moves_its_subtree_in_the_closure(db_session: Session) -> None:
    ids = build_tree(db_session)
    log = EventLog(db_session)
    units.move_unit(session=db_session, code="SDV-A", parent_code="DST-B", context=SYSTEM)
    assert closure(db_session, ids["PS-A1"]) == {
        (ids["PS-A1"], 0),
        (ids["SDV-A"], 1),
        (ids["DST-B"], 2),
        (ids["RNG-B"], 3),
        (ids["PHQ"], 4),
    }
    assert log.take() == [
        (
            "unit.moved",
            ("unit", ids["SDV-A"]),
            None,
            {"parent_id": ids["DST-B"], "from_parent_id": ids["DST-A"]},
        )
    ]
    _above, below = units.reach(session=db_session, unit_id=ids["DST-A"])
    assert ids["PS-A1"] not in below
    with pytest.raises(ValidationFailed) as cycle:
        units.move_unit(session=db_session, code="DST-B", parent_code="PS-A1", context=SYSTEM)
    assert cycle.value.code == "unit_cycle"
    with pytest.raises(ValidationFailed):
        units.move_unit(session=db_session, code="PHQ", parent_code="RNG-A", context=SYSTEM)
    with pytest.raises(NotFound) as unknown:
        units.move_unit(session=db_session, code="SDV-A", parent_code="NOPE", context=SYSTEM)
    assert unknown.value.code == "unknown_parent"


def test_renaming_a_unit_keeps_its_code(db_session: Session) -> None:
    ids = build_tree(db_session)
    log = EventLog(db_session)
    unit = units.update_unit(
        session=db_session, code="PS-A1", name="Kotwali", name_hi="कोतवाली", context=SYSTEM
    )
    assert (unit.code, unit.name, unit.name_hi) == ("PS-A1", "Kotwali", "कोतवाली")
    assert log.take() == [
        ("unit.changed", ("unit", ids["PS-A1"]), None, {"parent_id": ids["SDV-A"]})
    ]
    with pytest.raises(ValidationFailed):
        units.update_unit(session=db_session, code="PS-A1", name="", name_hi=None, context=SYSTEM)
