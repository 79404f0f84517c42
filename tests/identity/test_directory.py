"""Pages of users for administrators: search, unit (and below), role, status, keyset paging."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from polaris.identity import directory, roles, units, users
from polaris.identity.directory import UserFilter
from tests.factories import SYSTEM, build_tree, make_user


def names(page: directory.UserPage) -> list[str]:
    return [user.username for user in page.users]


@pytest.fixture
def people(db_session: Session) -> dict[str, int]:
    ids = build_tree(db_session)
    make_user(db_session, "ramesh.sharma", unit="PS-A1")
    make_user(db_session, "ramesh_b", unit="PS-B1", role="head_constable")
    make_user(db_session, "rameshb", unit="PS-A2")
    make_user(db_session, "sunita.verma", unit="SDV-A", role="sub_inspector")
    user = make_user(db_session, "pct.100", unit="PS-A1")
    user.full_name = "रमेश कुमार 100%"
    users.disable_user(session=db_session, username="rameshb", context=SYSTEM)
    db_session.flush()
    return ids


def test_search_matches_part_of_a_username_or_full_name(
    db_session: Session, people: dict[str, int]
) -> None:
    def search(text: str) -> list[str]:
        return names(directory.list_users(session=db_session, where=UserFilter(search=text)))

    assert search("RAMESH") == ["ramesh.sharma", "ramesh_b", "rameshb"]
    assert search("रमेश") == ["pct.100"]
    # LIKE's wildcards are plain characters here.
    assert search("h_b") == ["ramesh_b"]
    assert search("100%") == ["pct.100"]
    assert search("%") == ["pct.100"]
    assert search("  ") == ["pct.100", "ramesh.sharma", "ramesh_b", "rameshb", "sunita.verma"]


def test_filter_by_unit_below_role_and_status(db_session: Session, people: dict[str, int]) -> None:
    def find(**where: object) -> list[str]:
        return names(directory.list_users(session=db_session, where=UserFilter(**where)))

    assert find(unit_id=people["PS-A1"]) == ["pct.100", "ramesh.sharma"]
    assert find(unit_id=people["SDV-A"]) == ["sunita.verma"]
    assert find(unit_id=people["SDV-A"], include_below=True) == [
        "pct.100",
        "ramesh.sharma",
        "rameshb",
        "sunita.verma",
    ]
    assert find(unit_id=people["RNG-B"], include_below=True) == ["ramesh_b"]
    assert find(role="head_constable") == ["ramesh_b"]
    assert find(disabled=True) == ["rameshb"]
    assert "rameshb" not in find(disabled=False)
    assert find(search="ramesh", unit_id=people["PHQ"], include_below=True, disabled=False) == [
        "ramesh.sharma",
        "ramesh_b",
    ]


def test_pages_follow_each_other_by_username_with_the_total(
    db_session: Session, people: dict[str, int]
) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = directory.list_users(session=db_session, where=UserFilter(), after=after, limit=2)
        assert page.total == 5
        seen += names(page)
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == 3
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 5


def test_count_by_unit(db_session: Session, people: dict[str, int]) -> None:
    counts = directory.count_by_unit(session=db_session)
    assert counts == {
        people["PS-A1"]: 2,
        people["PS-B1"]: 1,
        people["PS-A2"]: 1,
        people["SDV-A"]: 1,
    }


def test_units_and_roles_are_listed_in_order(db_session: Session, people: dict[str, int]) -> None:
    listed = units.list_units(session=db_session)
    assert [unit.name for unit in listed] == sorted(unit.name for unit in listed)
    assert len(listed) == len(people)
    ranks = [role.rank_order for role in roles.list_roles(session=db_session)]
    assert ranks == sorted(ranks) and len(ranks) == len(roles.DEFAULT_ROLES)
