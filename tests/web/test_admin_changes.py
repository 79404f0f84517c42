"""Editing and transferring a user, creating, renaming and moving units, and groups, from the
administration pages: each reaches the audited service; a refused form comes back as typed with
the reason beside it (never a bare error page); Hindi pages show a unit's Hindi name."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.identity import units
from polaris.identity.models import GroupMember, UserGroup
from polaris.instance import Instance
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_admin_users import load_user
from tests.web.test_pages import csrf_of, sign_in


def read(instance: Instance, query: object) -> list[object]:
    session: Session = instance.sessions()
    try:
        return list(session.scalars(query))  # type: ignore[call-overload]
    finally:
        session.close()


def test_an_administrator_edits_a_user(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    page = client.get("/admin/user/ct.one")
    assert 'value="Ct.One"' in page.text and "Transfer to another unit" in page.text
    done = client.post(
        "/admin/user/ct.one/edit",
        data={
            "csrf": csrf_of(page.text),
            "full_name": "Ravi Sharma",
            "rank": "HC",
            "role": "sub_inspector",
            "clearance": "confidential",
        },
    )
    assert done.status_code == 303 and done.headers["location"].endswith("done=updated")
    person = load_user(seeded, "ct.one")
    assert (person.full_name, person.rank, person.role_code, person.clearance) == (
        "Ravi Sharma",
        "HC",
        "sub_inspector",
        2,
    )
    [record] = records(seeded, "user.update")
    assert record.actor_name == "admin.one" and record.object_id == str(person.id)
    assert "The changes are saved." in client.get(done.headers["location"]).text


def test_a_refused_edit_keeps_what_was_typed_and_says_why(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    page = client.get("/admin/user/ct.one")
    data = {
        "csrf": csrf_of(page.text),
        "full_name": "Typed Name",
        "rank": "SI",
        "role": "constable",
        "clearance": "secret",
    }
    refused = client.post("/admin/user/ct.one/edit", data=data)
    assert refused.status_code == 422
    assert 'value="Typed Name"' in refused.text
    assert "clearance secret is above what role constable allows" in refused.text
    assert 'role="alert"' in refused.text and "<h1>" in refused.text  # the page, not an error page
    hindi = client.post("/admin/user/ct.one/edit", data=data, headers={"Accept-Language": "hi"})
    assert "is above what role" not in hindi.text and "constable" in hindi.text
    assert load_user(seeded, "ct.one").full_name == "Ct.One"
    assert records(seeded, "user.update") == []


def test_the_last_administrator_cannot_be_demoted_from_the_page(client: TestClient) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    page = client.get("/admin/user/admin.one")
    refused = client.post(
        "/admin/user/admin.one/edit",
        data={"csrf": csrf_of(page.text), "full_name": "A", "role": "constable",
              "clearance": "unclassified"},
    )  # fmt: skip
    assert refused.status_code == 409
    assert "This is the last enabled administrator" in refused.text


def test_a_transfer_moves_the_user_and_says_what_happens_to_files(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    page = client.get("/admin/user/ct.one")
    assert "personal space (My files) goes with them" in page.text
    unknown = client.post(
        "/admin/user/ct.one/move", data={"csrf": csrf_of(page.text), "unit_code": "PS-Z9"}
    )
    assert unknown.status_code == 422
    assert 'value="PS-Z9"' in unknown.text and "unit PS-Z9 is not a known unit" in unknown.text
    moved = client.post(
        "/admin/user/ct.one/move", data={"csrf": csrf_of(page.text), "unit_code": "PS-B1"}
    )
    assert moved.status_code == 303
    assert load_user(seeded, "ct.one").unit.code == "PS-B1"
    [record] = records(seeded, "user.move")
    assert record.actor_name == "admin.one"
    assert "The officer is transferred to Unit PS-B1." in client.get(moved.headers["location"]).text


def test_units_are_created_renamed_in_hindi_and_moved(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    tree = client.get("/admin/units")
    csrf = csrf_of(tree.text)
    bad = client.post(
        "/admin/units/new",
        data={"csrf": csrf, "code": "PS-A3", "name": "Kotwali", "kind": "station",
              "parent_code": "NOPE"},
    )  # fmt: skip
    assert bad.status_code == 404 and 'value="Kotwali"' in bad.text
    assert "No unit has the parent&#39;s code." in bad.text
    made = client.post(
        "/admin/units/new",
        data={"csrf": csrf, "code": "PS-A3", "name": "Kotwali", "name_hi": "", "kind": "station",
              "parent_code": "SDV-A"},
    )  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/admin/unit/PS-A3?done=created"
    renamed = client.post(
        "/admin/unit/PS-A3/edit", data={"csrf": csrf, "name": "Kotwali", "name_hi": "कोतवाली"}
    )
    assert renamed.status_code == 303
    assert "कोतवाली" in client.get("/admin/units", headers={"Accept-Language": "hi"}).text
    english = client.get("/admin/units").text
    assert "Kotwali" in english and "कोतवाली" not in english
    cycle = client.post("/admin/unit/SDV-A/move", data={"csrf": csrf, "parent_code": "PS-A3"})
    assert cycle.status_code == 422 and "cannot be placed under itself" in cycle.text
    moved = client.post("/admin/unit/PS-A3/move", data={"csrf": csrf, "parent_code": "SDV-B"})
    assert moved.status_code == 303
    session: Session = seeded.sessions()
    try:
        sdv_b = units.get_by_code(session=session, code="SDV-B").id
        below = units.reach(session=session, unit_id=sdv_b)[1]
        assert units.get_by_code(session=session, code="PS-A3").id in below
    finally:
        session.close()
    assert [r.action for r in records(seeded, "unit.move")] == ["unit.move"]


def test_hindi_pages_show_the_units_hindi_name(seeded: Instance, client: TestClient) -> None:
    session: Session = seeded.sessions()
    unit = units.get_by_code(session=session, code="PS-A1")
    unit.name_hi = "थाना ए१"
    session.commit()
    session.close()
    sign_in_admin(client)
    client.follow_redirects = False
    hindi = client.get("/admin/user/ct.one", headers={"Accept-Language": "hi"}).text
    assert "थाना ए१" in hindi
    english = client.get("/admin/user/ct.one").text
    assert "Unit PS-A1" in english and "थाना ए१" not in english


def test_groups_are_created_and_their_members_managed(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    page = client.get("/admin/groups")
    csrf = csrf_of(page.text)
    unknown_unit = client.post(
        "/admin/groups/new", data={"csrf": csrf, "name": "SIT 7", "unit_code": "NOPE"}
    )
    assert unknown_unit.status_code == 404 and 'value="SIT 7"' in unknown_unit.text
    assert "No unit has this code." in unknown_unit.text
    made = client.post(
        "/admin/groups/new", data={"csrf": csrf, "name": "SIT 7", "unit_code": "DST-A"}
    )
    assert made.status_code == 303
    again = client.post("/admin/groups/new", data={"csrf": csrf, "name": "SIT 7"})
    assert again.status_code == 409 and "A group has this name already." in again.text
    [group] = read(seeded, select(UserGroup))
    assert isinstance(group, UserGroup)
    where = f"/admin/group/{group.id}"
    nobody = client.post(f"{where}/add", data={"csrf": csrf, "username": "no.one"})
    assert nobody.status_code == 404 and "No user has this username." in nobody.text
    added = client.post(f"{where}/add", data={"csrf": csrf, "username": "ct.one"})
    assert added.status_code == 303
    shown = client.get(where).text
    assert "1 member" in shown and "ct.one" in shown
    person = load_user(seeded, "ct.one")
    removed = client.post(f"{where}/remove", data={"csrf": csrf, "user_id": str(person.id)})
    assert removed.status_code == 303
    assert read(seeded, select(GroupMember)) == []
    twice = client.post(f"{where}/remove", data={"csrf": csrf, "user_id": str(person.id)})
    assert twice.status_code == 404 and "not a member" in twice.text
    assert [len(records(seeded, a)) for a in ("group.create", "group.add_member",
                                               "group.remove_member")] == [1, 1, 1]  # fmt: skip


@pytest.mark.parametrize(
    "path",
    ["/admin/groups", "/admin/unit/PS-A1", "/admin/group/1"],
)
def test_a_constable_may_not_open_the_new_pages(client: TestClient, path: str) -> None:
    sign_in(client, "ct.one")
    assert client.get(path).status_code == 403


def test_a_constable_may_not_change_anything(seeded: Instance, client: TestClient) -> None:
    sign_in(client, "ct.one")
    page = client.get("/", follow_redirects=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    for path, data in [
        ("/admin/user/ct.one/move", {"unit_code": "PHQ"}),
        ("/admin/user/ct.one/edit", {"full_name": "X", "role": "admin", "clearance": "secret"}),
        ("/admin/units/new", {"code": "X", "name": "X", "kind": "station", "parent_code": "PHQ"}),
        ("/admin/groups/new", {"name": "X"}),
    ]:
        assert client.post(path, data={"csrf": csrf.group(1), **data}).status_code == 403
    assert load_user(seeded, "ct.one").unit.code == "PS-A1"


def test_the_sidebar_names_unit_spaces_in_hindi(seeded: Instance, client: TestClient) -> None:
    session: Session = seeded.sessions()
    unit = units.get_by_code(session=session, code="PS-A1")
    unit.name_hi = "थाना ए१"
    session.commit()
    session.close()
    sign_in(client, "ct.one")
    hindi = client.get("/", headers={"Accept-Language": "hi"}, follow_redirects=True).text
    english = client.get("/", follow_redirects=True).text
    assert "थाना ए१" in hindi and "थाना ए१" not in english


def test_the_audit_log_reads_as_sentences_and_hides_searches(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    client.follow_redirects = False
    page = client.get("/admin/user/ct.one")
    client.post("/admin/user/ct.one/move", data={"csrf": csrf_of(page.text), "unit_code": "PS-B1"})
    client.get("/search", params={"q": "FIR"})
    log = client.get("/admin/audit").text
    assert "Admin.One transferred Ct.One to another unit" in log
    assert 'class="action">search.query' not in log and "Include searches" in log
    shown = client.get("/admin/audit", params={"searches": "show"}).text
    assert "Admin.One searched for “FIR”" in shown
    hindi = client.get("/admin/audit", headers={"Accept-Language": "hi"}).text
    assert "Admin.One ने Ct.One का दूसरी इकाई में तबादला किया" in hindi
