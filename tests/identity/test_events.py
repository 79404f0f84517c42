"""Identity's changes append their events (docs/events.md) in the change's transaction: users,
units, groups and memberships; no event for what changed nothing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from polaris.identity import groups, units, users
from tests.factories import FAST_PASSWORDS, SYSTEM, build_tree, make_user
from tests.support.events import EventLog


def test_units_users_groups_and_members_append_their_events(db_session: Session) -> None:
    log = EventLog(db_session)
    ids = build_tree(db_session)
    made = log.take()
    assert len(made) == 10
    assert ("unit.created", ("unit", ids["PS-A1"]), None, {"parent_id": ids["SDV-A"]}) in made
    assert ("unit.created", ("unit", ids["PHQ"]), None, {"parent_id": None}) in made

    [added] = units.import_units_csv(
        session=db_session,
        data=b"code,name,kind,parent_code\nPS-A3,Unit A3,station,SDV-A\n",
        context=SYSTEM,
    )
    assert log.take() == [("unit.created", ("unit", added.id), None, {"parent_id": ids["SDV-A"]})]

    user = make_user(db_session, "ct.a1", unit="PS-A1")
    assert log.take() == [("user.created", ("user", user.id), None, {"unit_id": ids["PS-A1"]})]
    imported = users.import_users_csv(
        session=db_session,
        data=b"username,full_name,unit_code,role\nct.b1,Ct B1,PS-B1,constable\n",
        passwords=FAST_PASSWORDS,
        context=SYSTEM,
    )
    [other] = [created.user for created in imported]
    assert log.take() == [("user.created", ("user", other.id), None, {"unit_id": ids["PS-B1"]})]

    for change, kind in [
        (users.disable_user, "user.disabled"),
        (users.disable_user, None),  # already disabled: nothing changed
        (users.enable_user, "user.enabled"),
        (users.enable_user, None),
    ]:
        change(session=db_session, username="ct.a1", context=SYSTEM)
        expected = (
            [] if kind is None else [(kind, ("user", user.id), None, {"unit_id": ids["PS-A1"]})]
        )
        assert log.take() == expected, kind
    users.reset_password(
        session=db_session, username="ct.a1", passwords=FAST_PASSWORDS, context=SYSTEM
    )
    users.reset_mfa(session=db_session, username="ct.a1", context=SYSTEM)
    assert log.take() == []  # credentials are nobody's to follow

    group = groups.create_group(
        session=db_session, name="A1 beat", unit_id=ids["PS-A1"], context=SYSTEM
    )
    assert log.take() == [("group.created", ("group", group.id), None, {"unit_id": ids["PS-A1"]})]
    for change, kind in [
        (groups.add_member, "group.member_added"),
        (groups.add_member, None),  # a member already
        (groups.remove_member, "group.member_removed"),
    ]:
        change(session=db_session, group_id=group.id, user_id=user.id, context=SYSTEM)
        expected = [] if kind is None else [(kind, ("group", group.id), None, {"user_id": user.id})]
        assert log.take() == expected, kind
