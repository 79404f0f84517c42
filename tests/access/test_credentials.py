"""The request-level rules: token scopes, the due password change, administration, groups."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polaris.access.policy import (
    TOKEN_SCOPES,
    Action,
    Actor,
    Classification,
    Need,
    decide_admin,
    decide_credentials,
    decide_group,
    decide_unfreeze,
    route_need,
)

OFFICER = Actor(
    user_id=7,
    username="ct.a1",
    unit_id=10,
    role_code="constable",
    clearance=Classification.RESTRICTED,
    unit_actions=frozenset({Action.READ}),
)
ADMIN = replace(OFFICER, user_id=1, username="admin", role_code="admin", is_admin=True)
scope_sets = st.frozensets(st.sampled_from(TOKEN_SCOPES), min_size=1)
needs = st.sampled_from(list(Need))


def token(actor: Actor, *scopes: str) -> Actor:
    return replace(actor, token_scopes=frozenset(scopes), auth_factors="token")


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (("read",), {Need.READ}),
        (("write",), {Need.READ, Need.WRITE}),
        (("all",), {Need.READ, Need.WRITE, Need.ALL}),
        (("read", "all"), {Need.READ, Need.WRITE, Need.ALL}),
    ],
)
def test_a_token_does_what_its_scopes_name_and_never_what_needs_a_session(
    scopes: tuple[str, ...], allowed: set[Need]
) -> None:
    actor = token(OFFICER, *scopes)
    for need in Need:
        decision = decide_credentials(actor, need)
        assert decision.allowed is (need in allowed), need
        if need in (Need.SESSION, Need.PASSWORD_CHANGE):
            assert decision.reason == "token_not_allowed"
        elif need not in allowed:
            assert decision.reason == "token_scope"


@given(scopes=scope_sets)
def test_no_token_may_manage_tokens_or_the_password(scopes: frozenset[str]) -> None:
    actor = replace(OFFICER, token_scopes=scopes)
    assert not decide_credentials(actor, Need.SESSION)
    assert not decide_credentials(actor, Need.PASSWORD_CHANGE)
    assert not decide_credentials(replace(ADMIN, token_scopes=scopes), Need.SESSION)


@given(need=needs)
def test_a_session_may_do_what_any_route_needs(need: Need) -> None:
    assert decide_credentials(OFFICER, need)


@given(need=needs, scopes=st.none() | scope_sets)
def test_a_due_password_change_allows_only_the_change(
    need: Need, scopes: frozenset[str] | None
) -> None:
    actor = replace(OFFICER, must_change_password=True, token_scopes=scopes)
    decision = decide_credentials(actor, need)
    if need is Need.PASSWORD_CHANGE and scopes is None:
        assert decision.allowed
    else:
        assert not decision.allowed
    assert not decide_admin(replace(ADMIN, must_change_password=True))


@given(need=needs)
def test_a_disabled_actor_is_refused_whatever_the_need(need: Need) -> None:
    assert decide_credentials(replace(OFFICER, disabled=True), need).reason == "actor_disabled"


def test_administration_needs_an_administrator_and_at_most_an_all_token() -> None:
    assert decide_admin(ADMIN).allowed
    assert decide_admin(token(ADMIN, "all")).allowed
    assert decide_admin(token(ADMIN, "read")).reason == "token_scope"
    assert decide_admin(token(ADMIN, "write")).reason == "token_scope"
    assert decide_admin(OFFICER).reason == "not_admin"
    assert decide_admin(token(OFFICER, "all")).reason == "not_admin"
    assert decide_admin(replace(ADMIN, disabled=True)).reason == "actor_disabled"


@pytest.mark.parametrize(
    ("method", "declared", "need"),
    [
        ("GET", (), Need.READ),
        ("HEAD", (), Need.READ),
        ("POST", (), Need.WRITE),
        ("PUT", (), Need.WRITE),
        ("PATCH", (), Need.WRITE),
        ("DELETE", (), Need.WRITE),
        ("PROPFIND", (), Need.WRITE),
        ("GET", ("all",), Need.ALL),
    ],
)
def test_a_route_needs_write_unless_it_only_reads(
    method: str, declared: tuple[str, ...], need: Need
) -> None:
    assert route_need(method, declared) is need


# Units: 1 is the district; 10 and 11 are its stations; 20 is a station elsewhere.
DISTRICT_HEAD = replace(
    OFFICER,
    user_id=8,
    unit_id=1,
    role_code="district_head",
    subtree_actions=frozenset({Action.READ}),
    descendant_unit_ids=frozenset({10, 11}),
)


def test_members_see_their_group_wherever_it_belongs() -> None:
    member = replace(OFFICER, group_ids=frozenset({5}))
    assert decide_group(member, group_id=5, unit_id=20).reason == "member"
    assert decide_group(member, group_id=5, unit_id=None).reason == "member"


def test_a_groups_unit_and_the_supervisors_above_it_see_it() -> None:
    assert decide_group(OFFICER, group_id=5, unit_id=10).reason == "unit_role"
    assert decide_group(DISTRICT_HEAD, group_id=5, unit_id=11).reason == "supervisory_reach"
    assert decide_group(DISTRICT_HEAD, group_id=5, unit_id=1).reason == "unit_role"
    assert decide_group(ADMIN, group_id=5, unit_id=20).reason == "admin"


@pytest.mark.parametrize(
    ("who", "unit_id"),
    [
        ("officer", 20),  # a station elsewhere
        ("officer", 11),  # the station next door
        ("officer", 1),  # the district above: reach goes down, never up
        ("officer", None),  # a group of no unit, not a member
        ("district_head", 20),  # outside the district
        ("district_head", None),
        ("disabled_admin", 10),
    ],
)
def test_everyone_else_is_denied_a_group(who: str, unit_id: int | None) -> None:
    actor = {
        "officer": OFFICER,
        "district_head": DISTRICT_HEAD,
        "disabled_admin": replace(ADMIN, disabled=True),
    }[who]
    assert decide_group(actor, group_id=5, unit_id=unit_id).reason == "no_reach"


def test_a_constable_does_not_reach_down_like_a_supervisor() -> None:
    # Without a supervisory role, units below (if any) give no sight of their groups.
    constable = replace(OFFICER, descendant_unit_ids=frozenset({30}))
    assert not decide_group(constable, group_id=5, unit_id=30)


def test_nobody_lifts_the_guards_freeze_on_their_own_account() -> None:
    other = 7
    assert decide_unfreeze(ADMIN, user_id=other).allowed
    assert decide_unfreeze(ADMIN, user_id=ADMIN.user_id).reason == "own_freeze"
    frozen = replace(ADMIN, writes_frozen=True)
    assert decide_unfreeze(frozen, user_id=frozen.user_id).reason == "own_freeze"
    # Nor anyone else's while frozen: the credentials may be the attacker's.
    assert decide_unfreeze(frozen, user_id=other).reason == "writes_frozen"
    assert decide_unfreeze(OFFICER, user_id=OFFICER.user_id).reason == "not_admin"
    assert decide_unfreeze(token(ADMIN, "write"), user_id=other).reason == "token_scope"
