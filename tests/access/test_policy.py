"""The access rules, checked as properties over random trees, actors, objects and shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from polaris.access.policy import (
    Action,
    Actor,
    Classification,
    Grant,
    Permission,
    Resource,
    decide,
    decide_usage,
    grant_names,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@st.composite
def trees(draw: st.DrawFn) -> list[int | None]:
    """parent[i] for units 0..n-1; unit 0 is the root, every parent comes before its child."""
    size = draw(st.integers(min_value=1, max_value=12))
    return [None] + [draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, size)]


def ancestors(tree: list[int | None], unit: int) -> set[int]:
    found = set()
    parent = tree[unit]
    while parent is not None:
        found.add(parent)
        parent = tree[parent]
    return found


def descendants(tree: list[int | None], unit: int) -> set[int]:
    return {other for other in range(len(tree)) if unit in ancestors(tree, other)}


actions = st.sampled_from(list(Action))
action_sets = st.frozensets(actions)
classifications = st.sampled_from(list(Classification))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[int | None], Actor, Resource, Action]:
    tree = draw(trees())
    unit = draw(st.integers(min_value=0, max_value=len(tree) - 1))
    actor = Actor(
        user_id=draw(st.integers(min_value=1, max_value=5)),
        username="someone",
        unit_id=unit,
        role_code="role",
        clearance=draw(classifications),
        unit_actions=draw(action_sets),
        subtree_actions=draw(action_sets),
        disabled=draw(st.booleans()),
        ancestor_unit_ids=frozenset(ancestors(tree, unit)),
        descendant_unit_ids=frozenset(descendants(tree, unit)),
        group_ids=draw(st.frozensets(st.integers(min_value=1, max_value=3))),
        token_scopes=draw(st.none() | st.frozensets(st.sampled_from(["read", "write", "all"]))),
    )
    grants = draw(
        st.lists(
            st.builds(
                Grant,
                subject_type=st.sampled_from(["user", "unit", "group"]),
                subject_id=st.integers(min_value=0, max_value=len(tree)),
                permission=st.sampled_from(list(Permission)),
                include_subunits=st.booleans(),
                expires_at=st.none()
                | st.integers(min_value=-5, max_value=5).map(lambda h: NOW + dt.timedelta(hours=h)),
            ),
            max_size=3,
        )
    )
    resource = Resource(
        kind="document",
        id="d1",
        unit_id=draw(st.integers(min_value=0, max_value=len(tree) - 1)),
        classification=draw(classifications),
        owner_id=draw(st.none() | st.integers(min_value=1, max_value=5)),
        grants=tuple(grants),
    )
    return tree, actor, resource, draw(actions)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_disabled_actor_can_do_nothing(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    _tree, actor, resource, action = scenario
    assert not decide(replace(actor, disabled=True), action, resource, now=NOW)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_clearance_is_always_enforced(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    _tree, actor, resource, action = scenario
    if decide(actor, action, resource, now=NOW):
        assert actor.clearance >= resource.classification


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_expired_shares_grant_nothing(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    _tree, actor, resource, action = scenario
    live = tuple(g for g in resource.grants if g.expires_at is None or g.expires_at > NOW)
    without_expired = replace(resource, grants=live)
    assert bool(decide(actor, action, resource, now=NOW)) == bool(
        decide(actor, action, without_expired, now=NOW)
    )


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_without_share_or_ownership_reach_is_own_unit_and_below_only(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    tree, actor, resource, action = scenario
    unshared = replace(resource, grants=(), owner_id=None)
    if decide(actor, action, unshared, now=NOW):
        assert resource.unit_id is not None
        in_reach = {actor.unit_id} | descendants(tree, actor.unit_id)
        assert resource.unit_id in in_reach
        if resource.unit_id == actor.unit_id:
            assert action in actor.unit_actions
        else:
            assert action in actor.subtree_actions


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_reach_never_goes_up_or_sideways(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    tree, actor, resource, action = scenario
    unshared = replace(resource, grants=(), owner_id=None)
    assert resource.unit_id is not None
    outside = resource.unit_id != actor.unit_id and resource.unit_id not in descendants(
        tree, actor.unit_id
    )
    if outside:
        assert not decide(actor, action, unshared, now=NOW)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_share_grants_exactly_its_permission(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    _tree, actor, resource, action = scenario
    grant = Grant(subject_type="user", subject_id=actor.user_id, permission=Permission.READ)
    elsewhere = replace(resource, unit_id=None, owner_id=None, grants=(grant,))
    decision = decide(actor, action, elsewhere, now=NOW)
    reachable = (
        not actor.disabled
        and actor.clearance >= resource.classification
        and (actor.token_scopes is None or bool(actor.token_scopes))
    )
    if action is not Action.READ:
        assert not decision
    elif reachable:
        assert decision


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_a_share_names_the_actor_exactly_when_it_would_let_them_read_unexpired(
    scenario: tuple[list[int | None], Actor, Resource, Action],
) -> None:
    """``grant_names`` (the changes feed's "is this share theirs?") agrees with ``decide``."""
    _tree, actor, resource, _action = scenario
    actor = replace(actor, disabled=False, token_scopes=None, clearance=Classification.SECRET)
    for grant in resource.grants:
        alone = Resource(
            kind="document", id="d1", unit_id=None, grants=(replace(grant, expires_at=None),)
        )
        assert grant_names(grant, actor) == bool(decide(actor, Action.READ, alone, now=NOW))


def test_unit_share_with_subunits_reaches_down_only() -> None:
    tree: list[int | None] = [None, 0, 1]  # 0 ─ 1 ─ 2
    grant = Grant(
        subject_type="unit", subject_id=1, permission=Permission.READ, include_subunits=True
    )
    resource = Resource(kind="document", id="x", unit_id=None, grants=(grant,))

    def actor_in(unit: int) -> Actor:
        return Actor(
            user_id=9,
            username="u",
            unit_id=unit,
            role_code="r",
            clearance=Classification.SECRET,
            ancestor_unit_ids=frozenset(ancestors(tree, unit)),
            descendant_unit_ids=frozenset(descendants(tree, unit)),
        )

    assert decide(actor_in(1), Action.READ, resource, now=NOW)
    assert decide(actor_in(2), Action.READ, resource, now=NOW)
    assert not decide(actor_in(0), Action.READ, resource, now=NOW)
    narrow = replace(resource, grants=(replace(grant, include_subunits=False),))
    assert not decide(actor_in(2), Action.READ, narrow, now=NOW)


def test_token_scope_limits_actions() -> None:
    actor = Actor(
        user_id=1,
        username="u",
        unit_id=1,
        role_code="r",
        clearance=Classification.SECRET,
        unit_actions=frozenset(Action),
        token_scopes=frozenset({"read"}),
    )
    resource = Resource(kind="document", id="x", unit_id=1)
    assert decide(actor, Action.READ, resource, now=NOW)
    assert decide(actor, Action.WRITE, resource, now=NOW).reason == "token_scope"


def test_quota_figures_need_the_whole_space_or_an_administrator() -> None:
    officer = Actor(
        user_id=1,
        username="u",
        unit_id=1,
        role_code="r",
        clearance=Classification.CONFIDENTIAL,
        unit_actions=frozenset({Action.READ}),
    )
    whole_space = Resource(kind="space", id="7", unit_id=1, classification=Classification.SECRET)
    assert decide_usage(officer, whole_space, now=NOW).reason == "clearance"
    cleared = replace(officer, clearance=Classification.SECRET)
    assert decide_usage(cleared, whole_space, now=NOW).reason == "unit_role"
    elsewhere = replace(cleared, unit_id=2)
    assert decide_usage(elsewhere, whole_space, now=NOW).reason == "no_reach"
    admin = replace(elsewhere, is_admin=True)
    assert decide_usage(admin, whole_space, now=NOW).reason == "admin"
    assert decide_usage(replace(admin, disabled=True), whole_space, now=NOW).reason == (
        "actor_disabled"
    )


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.booleans())
def test_only_a_role_or_an_administrator_lowers_a_classification(
    scenario: tuple[list[int | None], Actor, Resource, Action], is_admin: bool
) -> None:
    """Ownership and shares never grant ``declassify`` (they may only raise); a role that holds
    it over the object's unit, or an administrator, does."""
    _tree, actor, resource, _action = scenario
    actor = replace(actor, is_admin=is_admin)
    decision = decide(actor, Action.DECLASSIFY, resource, now=NOW)
    if decision:
        assert decision.reason in {"admin", "unit_role", "supervisory_reach"}
        if not is_admin:
            own = resource.unit_id == actor.unit_id
            held = actor.unit_actions if own else actor.subtree_actions
            assert Action.DECLASSIFY in held
    owner_only = replace(resource, unit_id=None, owner_id=actor.user_id)
    managed = replace(
        resource,
        unit_id=None,
        grants=(
            Grant(subject_type="user", subject_id=actor.user_id, permission=Permission.MANAGE),
        ),
    )
    plain = replace(actor, is_admin=False)
    assert not decide(plain, Action.DECLASSIFY, owner_only, now=NOW)
    assert not decide(plain, Action.DECLASSIFY, managed, now=NOW)


def test_an_administrator_lowers_what_they_may_read_within_clearance_only() -> None:
    admin = Actor(
        user_id=1,
        username="a",
        unit_id=1,
        role_code="admin",
        clearance=Classification.CONFIDENTIAL,
        unit_actions=frozenset({Action.READ}),
        is_admin=True,
    )
    own_unit = Resource(kind="node", id="5", unit_id=1, classification=Classification.RESTRICTED)
    assert decide(admin, Action.DECLASSIFY, own_unit, now=NOW).reason == "admin"
    assert not decide(admin, Action.CLASSIFY, own_unit, now=NOW)
    # Only what they may read: not a unit their role does not reach, unless shared with them.
    elsewhere = replace(own_unit, unit_id=7)
    assert decide(admin, Action.DECLASSIFY, elsewhere, now=NOW).reason == "no_reach"
    shared = replace(
        elsewhere,
        grants=(Grant(subject_type="user", subject_id=1, permission=Permission.READ),),
    )
    assert decide(admin, Action.DECLASSIFY, shared, now=NOW).reason == "admin"
    secret = replace(own_unit, classification=Classification.SECRET)
    assert decide(admin, Action.DECLASSIFY, secret, now=NOW).reason == "clearance"
    frozen = replace(admin, writes_frozen=True)
    assert decide(frozen, Action.DECLASSIFY, own_unit, now=NOW).reason == "writes_frozen"
