"""Groups: who sees which group and its members (``access.policy.group_reach``), in the query."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from polaris.access.policy import Actor, Classification, decide_group
from polaris.errors import NotFound
from polaris.identity import groups
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from tests.factories import SYSTEM, build_tree, make_user


def actor(session: Session, user: User) -> Actor:
    return actor_for(session=session, user=user, auth_factors="password")


@pytest.fixture
def world(db_session: Session) -> dict[str, User]:
    ids = build_tree(db_session)
    people = {
        "ct.a1": make_user(db_session, "ct.a1", unit="PS-A1"),
        "ct.a2": make_user(db_session, "ct.a2", unit="PS-A2"),
        "ct.b1": make_user(db_session, "ct.b1", unit="PS-B1"),
        "sdop.a": make_user(
            db_session,
            "sdop.a",
            unit="SDV-A",
            role="subdivision_head",
            clearance=Classification.SECRET,
        ),
        "ct.sdv": make_user(db_session, "ct.sdv", unit="SDV-A"),
        "admin": make_user(db_session, "admin", unit="PHQ", role="admin"),
    }
    a1 = groups.create_group(
        session=db_session, name="A1 beat", unit_id=ids["PS-A1"], context=SYSTEM
    )
    b1 = groups.create_group(
        session=db_session, name="B1 SIT", unit_id=ids["PS-B1"], context=SYSTEM
    )
    task = groups.create_group(session=db_session, name="Task force", unit_id=None, context=SYSTEM)
    groups.add_member(
        session=db_session, group_id=a1.id, user_id=people["ct.a1"].id, context=SYSTEM
    )
    groups.add_member(
        session=db_session, group_id=b1.id, user_id=people["ct.b1"].id, context=SYSTEM
    )
    groups.add_member(
        session=db_session, group_id=task.id, user_id=people["ct.b1"].id, context=SYSTEM
    )
    groups.add_member(
        session=db_session, group_id=task.id, user_id=people["ct.a2"].id, context=SYSTEM
    )
    db_session.flush()
    return people


def visible(session: Session, user: User) -> dict[str, list[str]]:
    names = {u.id: u.username for u in session.query(User)}
    return {
        group.name: [names[m] for m in members]
        for group, members in groups.list_groups(session=session, actor=actor(session, user))
    }


def test_a_constable_sees_the_groups_of_their_station_and_their_own_only(
    db_session: Session, world: dict[str, User]
) -> None:
    assert visible(db_session, world["ct.a1"]) == {"A1 beat": ["ct.a1"]}
    assert visible(db_session, world["ct.a2"]) == {"Task force": ["ct.a2", "ct.b1"]}
    assert visible(db_session, world["ct.b1"]) == {
        "B1 SIT": ["ct.b1"],
        "Task force": ["ct.a2", "ct.b1"],
    }


def test_supervisors_see_the_groups_below_them_and_a_plain_colleague_does_not(
    db_session: Session, world: dict[str, User]
) -> None:
    assert visible(db_session, world["sdop.a"]) == {"A1 beat": ["ct.a1"]}
    # A constable posted at the sub-division has no supervisory reach.
    assert visible(db_session, world["ct.sdv"]) == {}


def test_administrators_see_every_group(db_session: Session, world: dict[str, User]) -> None:
    assert set(visible(db_session, world["admin"])) == {"A1 beat", "B1 SIT", "Task force"}


def test_the_list_query_and_the_policy_agree(db_session: Session, world: dict[str, User]) -> None:
    every = groups.list_groups(session=db_session, actor=actor(db_session, world["admin"]))
    for user in world.values():
        who = actor(db_session, user)
        listed = {g.id for g, _ in groups.list_groups(session=db_session, actor=who)}
        for group, _ in every:
            decision = decide_group(who, group_id=group.id, unit_id=group.unit_id)
            assert decision.allowed is (group.id in listed), (user.username, group.name)


def test_a_group_one_may_not_see_is_not_found_by_name(
    db_session: Session, world: dict[str, User]
) -> None:
    a1 = actor(db_session, world["ct.a1"])
    assert groups.get_by_name(session=db_session, actor=a1, name="A1 beat").name == "A1 beat"
    for hidden in ("B1 SIT", "Task force", "no such group"):
        with pytest.raises(NotFound) as raised:
            groups.get_by_name(session=db_session, actor=a1, name=hidden)
        assert raised.value.code == "group_not_found"
