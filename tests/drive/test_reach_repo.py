"""``reach_repo.reached_space_roots``: the spaces a searcher reaches with their roots' levels, on
both databases (the roots' levels are a subquery a space, not a join: see the function)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from polaris.access.policy import Classification
from polaris.drive import reach_repo, spaces
from polaris.drive.models import Node, Space
from polaris.identity.models import Unit
from tests.factories import build_tree, make_user

DEFAULTS = spaces.SpaceDefaults()


def test_the_own_space_and_the_units_spaces_with_their_roots_levels(db_session: Session) -> None:
    ids = build_tree(db_session)
    user = make_user(db_session, "ct.one")
    own = spaces.ensure_user_space(db_session, user, DEFAULTS)
    made = {
        code: spaces.ensure_unit_space(
            db_session, db_session.scalars(select(Unit).where(Unit.code == code)).one(), DEFAULTS
        )
        for code in ("PS-A1", "PS-A2", "PS-B1")
    }
    db_session.execute(
        update(Node).where(Node.id == made["PS-A2"].root_id).values(classification=2)
    )
    # A space whose root is gone is left out (the join did so; the subquery must too).
    db_session.execute(update(Space).where(Space.id == made["PS-B1"].id).values(root_id=10**9))

    rows = reach_repo.reached_space_roots(
        db_session, owner_id=user.id, unit_ids=[ids["PS-A1"], ids["PS-A2"], ids["PS-B1"]]
    )
    found = {row.id: (row.kind, row.root_id, row.root_classification) for row in rows}
    assert found == {
        own.id: ("user", own.root_id, 0),
        made["PS-A1"].id: ("unit", made["PS-A1"].root_id, 0),
        made["PS-A2"].id: ("unit", made["PS-A2"].root_id, int(Classification.CONFIDENTIAL)),
    }
    assert reach_repo.reached_space_roots(db_session, owner_id=-1, unit_ids=[]) == []
