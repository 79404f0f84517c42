"""An administrator whose writes the ransomware guard froze may look at the admin pages but
change nothing there: their session or token may be the attacker's."""

from __future__ import annotations

import dataclasses

from polaris.access.policy import Actor, Classification, decide_admin, decide_unfreeze

ADMIN = Actor(
    user_id=7,
    username="admin.hq",
    unit_id=1,
    role_code="admin",
    clearance=Classification.SECRET,
    is_admin=True,
)


def test_a_frozen_administrator_may_look_but_not_change() -> None:
    admin = dataclasses.replace(ADMIN, writes_frozen=True)
    assert decide_admin(admin, changes=False).allowed
    refused = decide_admin(admin)
    assert (refused.allowed, refused.reason) == (False, "writes_frozen")


def test_a_frozen_administrator_may_not_unfreeze_anyone() -> None:
    admin = dataclasses.replace(ADMIN, writes_frozen=True)
    assert decide_unfreeze(admin, user_id=admin.user_id).reason == "own_freeze"
    assert decide_unfreeze(admin, user_id=admin.user_id + 1).reason == "writes_frozen"
    thawed = dataclasses.replace(admin, writes_frozen=False)
    assert decide_unfreeze(thawed, user_id=admin.user_id + 1).allowed
