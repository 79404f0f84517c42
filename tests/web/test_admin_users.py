"""The user pages: find and page through users, create one, disable, enable, reset password or MFA.

Each action must reach the service (which audits it in the administrator's name) and show a
generated password exactly once, on a page no cache keeps.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from polaris.identity import users
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import FAST_PASSWORDS, PASSWORD, make_user
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

ONCE = re.compile(r'<code class="secret" id="once-password">([^<]+)</code>')


def usernames_on(html: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/user/([^"]+)">', html)


def load_user(instance: Instance, username: str) -> User:
    session: Session = instance.sessions()
    try:
        return users.get_by_username(session=session, username=username)
    finally:
        session.close()


def add_users(instance: Instance, names: list[tuple[str, str]]) -> None:
    session: Session = instance.sessions()
    for username, unit in names:
        make_user(session, username, unit=unit)
    session.commit()
    session.close()


def test_search_by_part_of_a_name_and_filter_by_unit(seeded: Instance, client: TestClient) -> None:
    add_users(seeded, [("ramesh.a1", "PS-A1"), ("suresh.a2", "PS-A2"), ("ramesh.b1", "PS-B1")])
    sign_in_admin(client)
    found = client.get("/admin/users", params={"q": "RAMESH"})
    assert found.status_code == 200
    assert usernames_on(found.text) == ["ramesh.a1", "ramesh.b1"]
    assert "2 users found" in found.text
    in_unit = client.get("/admin/users", params={"unit": "PS-A1"})
    assert usernames_on(in_unit.text) == ["ct.one", "ramesh.a1"]
    below = client.get("/admin/users", params={"unit": "SDV-A", "below": "1"})
    assert usernames_on(below.text) == ["ct.one", "ramesh.a1", "suresh.a2"]
    assert usernames_on(client.get("/admin/users", params={"unit": "SDV-A"}).text) == []
    unknown = client.get("/admin/users", params={"unit": "NO-SUCH"})
    assert "No unit has this code." in unknown.text and usernames_on(unknown.text) == []


def test_a_long_list_comes_in_pages(seeded: Instance, client: TestClient) -> None:
    add_users(seeded, [(f"officer.{n:03d}", "PS-B1") for n in range(60)])
    sign_in_admin(client)
    first = client.get("/admin/users", params={"unit": "PS-B1"})
    shown = usernames_on(first.text)
    assert shown == [f"officer.{n:03d}" for n in range(50)]
    assert "60 users found" in first.text
    following = re.search(r'href="(/admin/users\?[^"]+)" rel="next"', first.text)
    assert following and "after=officer.049" in following.group(1)
    second = client.get(following.group(1).replace("&amp;", "&"))
    assert usernames_on(second.text) == [f"officer.{n:03d}" for n in range(50, 60)]
    assert 'rel="next"' not in second.text and "First page" in second.text


def test_create_a_user_shows_the_first_password_once(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    form = client.get("/admin/users/new", params={"unit": "PS-A2"})
    assert 'value="PS-A2"' in form.text  # the unit tree's link fills in the unit
    response = client.post(
        "/admin/users/new",
        data={
            "csrf": csrf_of(form.text),
            "username": "Sunita.Verma",
            "full_name": "सुनीता वर्मा",
            "unit_code": "PS-A2",
            "role": "sub_inspector",
            "rank": "SI",
            "clearance": "confidential",
        },
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    password = ONCE.search(response.text)
    assert password
    created = load_user(seeded, "sunita.verma")
    assert created.full_name == "सुनीता वर्मा" and created.unit.code == "PS-A2"
    assert created.role_code == "sub_inspector" and created.clearance == 2
    assert created.must_change_password
    assert FAST_PASSWORDS.verify(created.password_hash, password.group(1)).ok
    assert password.group(1) not in client.get("/admin/user/sunita.verma").text
    [record] = records(seeded, "user.create")[-1:]
    assert record.actor_name == "admin.one" and record.object_id == str(created.id)


def test_a_refused_user_keeps_the_form_filled_and_says_why(client: TestClient) -> None:
    sign_in_admin(client)
    form = client.get("/admin/users/new")
    data = {
        "csrf": csrf_of(form.text),
        "username": "ct.one",
        "full_name": "Someone Else",
        "unit_code": "PS-A1",
        "role": "constable",
    }
    taken = client.post("/admin/users/new", data=data)
    assert taken.status_code == 409
    assert "That username is taken." in taken.text
    assert 'value="Someone Else"' in taken.text
    unknown_unit = client.post("/admin/users/new", data={**data, "username": "new.one",
                                                          "unit_code": "PS-Z9"})  # fmt: skip
    assert unknown_unit.status_code == 422
    assert "The user was not created:" in unknown_unit.text
    assert "unit PS-Z9 is not a known unit" in unknown_unit.text
    refused = {**data, "username": "new.one", "unit_code": "PS-Z9"}
    hindi = client.post("/admin/users/new", data=refused, headers={"Accept-Language": "hi"})
    assert "PS-Z9" in hindi.text and "is not a known unit" not in hindi.text


def test_disable_ends_the_officers_sessions_and_enable_lets_them_back(
    seeded: Instance, client: TestClient
) -> None:
    officer = TestClient(client.app, base_url="https://testserver")
    sign_in(officer, "ct.one")
    assert officer.get("/", follow_redirects=True).status_code == 200
    sign_in_admin(client)
    page = client.get("/admin/user/ct.one")
    done = client.post(
        "/admin/user/ct.one/disable", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert (
        done.status_code == 303 and done.headers["location"] == "/admin/user/ct.one?done=disabled"
    )
    shown = client.get(done.headers["location"])
    assert "every session and API token of theirs has ended" in shown.text
    assert load_user(seeded, "ct.one").disabled_at is not None
    assert officer.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert records(seeded, "user.disable")[-1].actor_name == "admin.one"
    client.post("/admin/user/ct.one/enable", data={"csrf": csrf_of(shown.text)})
    assert load_user(seeded, "ct.one").disabled_at is None
    assert records(seeded, "user.enable")[-1].actor_name == "admin.one"
    assert sign_in(officer, "ct.one").status_code == 303  # type: ignore[attr-defined]


def test_reset_password_shows_the_new_one_once_and_the_old_one_stops_working(
    seeded: Instance, client: TestClient
) -> None:
    sign_in_admin(client)
    page = client.get("/admin/user/ct.one")
    response = client.post("/admin/user/ct.one/reset-password", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    password = ONCE.search(response.text)
    assert password
    user = load_user(seeded, "ct.one")
    assert FAST_PASSWORDS.verify(user.password_hash, password.group(1)).ok
    assert not FAST_PASSWORDS.verify(user.password_hash, PASSWORD).ok
    assert records(seeded, "user.reset_password")[-1].object_id == str(user.id)


def test_reset_mfa_removes_the_second_factor(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client, "admin.one")
    assert load_user(seeded, "admin.one").mfa_enabled_at is not None
    page = client.get("/admin/user/admin.one")
    done = client.post("/admin/user/admin.one/reset-mfa", data={"csrf": csrf_of(page.text)})
    # Their own sessions ended with it: back to sign-in.
    assert done.url.path == "/login"
    assert load_user(seeded, "admin.one").mfa_enabled_at is None
    assert records(seeded, "user.reset_mfa")[-1].actor_name == "admin.one"


def test_actions_without_the_form_token_are_refused(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    response = client.post("/admin/user/ct.one/disable", data={})
    assert response.status_code == 403 and "This form has expired." in response.text
    assert load_user(seeded, "ct.one").disabled_at is None
    assert client.post("/admin/user/nobody.here/disable", data={}).status_code == 403


def test_unknown_user_is_a_plain_404(client: TestClient) -> None:
    sign_in_admin(client)
    assert client.get("/admin/user/nobody.here").status_code == 404


def test_disabling_yourself_is_refused_with_a_message(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    page = client.get("/admin/user/admin.one")
    refused = client.post("/admin/user/admin.one/disable", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 409
    assert "You cannot disable your own account." in refused.text
    assert load_user(seeded, "admin.one").disabled_at is None
