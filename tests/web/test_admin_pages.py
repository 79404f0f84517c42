"""Administration pages over HTTP: who may open them, the unit tree, the frame's links."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.identity import mfa
from polaris.instance import Instance
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

SECRET = re.compile(r'<code class="secret" data-key="([A-Z2-7]+)">')


def sign_in_admin(client: TestClient, username: str = "admin.one") -> None:
    """Sign in and enrol an authenticator, as the role requires; the client is then signed in."""
    response = sign_in(client, username)
    assert response.headers["location"] == "/enrol"  # type: ignore[attr-defined]
    enrol = client.get("/enrol")
    started = client.post("/enrol/start", data={"csrf": csrf_of(enrol.text)})
    secret = SECRET.search(started.text)
    assert secret, "no authenticator key on the page"
    done = client.post(
        "/enrol/confirm",
        data={"csrf": csrf_of(started.text), "code": mfa.current_code(secret.group(1))},
    )
    assert done.status_code == 200, done.text


def records(instance: Instance, action: str) -> list[AuditRecord]:
    """The audit records of ``action``, oldest first."""
    session: Session = instance.sessions()
    try:
        found = session.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
        )
        return list(found)
    finally:
        session.close()


ADMIN_PAGES = [
    "/admin/units",
    "/admin/users",
    "/admin/users/new",
    "/admin/user/ct.one",
    "/admin/users/import",
    "/admin/audit",
    "/admin/status",
    "/admin/retention",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_constable_gets_the_translated_not_allowed_page(client: TestClient, path: str) -> None:
    sign_in(client, "ct.one")
    english = client.get(path)
    assert english.status_code == 403
    assert "Only administrators may do this." in english.text
    hindi = client.get(path, headers={"Accept-Language": "hi"})
    assert hindi.status_code == 403 and 'lang="hi"' in hindi.text
    assert "Only administrators may do this." not in hindi.text


def test_a_constable_cannot_act_either(client: TestClient) -> None:
    sign_in(client, "ct.one")
    folder = client.get("/", follow_redirects=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', folder.text)
    assert csrf
    for path in ("/admin/user/admin.one/disable", "/admin/user/admin.one/reset-password"):
        response = client.post(path, data={"csrf": csrf.group(1)})
        assert response.status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/admin/users?q=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fq%3Dx"


def test_the_frame_links_administration_for_administrators_only(client: TestClient) -> None:
    sign_in(client, "ct.one")
    folder = client.get("/", follow_redirects=True)
    assert 'href="/account/password"' in folder.text
    assert 'href="/admin"' not in folder.text
    client.cookies.clear()
    sign_in_admin(client)
    folder = client.get("/", follow_redirects=True)
    assert 'href="/admin"' in folder.text and 'href="/account/password"' in folder.text
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/users"


def test_unit_tree_shows_the_hierarchy_with_codes_kinds_and_user_counts(client: TestClient) -> None:
    sign_in_admin(client)
    page = client.get("/admin/units")
    assert page.status_code == 200
    text = page.text
    # Nested: PS-A1 sits inside SDV-A, which sits inside DST-A, inside RNG-A, inside PHQ.
    positions = [text.index(f"<code class=\"unit-code\">{code}</code>") for code in
                 ("PHQ", "RNG-A", "DST-A", "SDV-A", "PS-A1", "PS-A2", "RNG-B")]  # fmt: skip
    assert positions == sorted(positions)
    assert (
        text.count("<details") - text.count('<details class="menu') == 7
    )  # every unit with units below it; stations are leaves
    assert "Police station" in text and "Sub-division" in text
    # ct.one is in PS-A1, admin.one in PHQ: one user each, two under PHQ.
    hidden = '<span class="visually-hidden">'
    assert f'href="/admin/users?unit=PS-A1">1 user{hidden} in PS-A1</span>' in text
    assert f'href="/admin/users?unit=PS-A2">0 users{hidden} in PS-A2</span>' in text
    assert f'below=1">2 users with the units below{hidden} in PHQ</span>' in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text) and "style=" not in text


def test_every_page_renders_in_hindi(client: TestClient) -> None:
    sign_in_admin(client)
    for path in ADMIN_PAGES:
        page = client.get(path, headers={"Accept-Language": "hi"})
        assert page.status_code == 200, path
        assert 'lang="hi"' in page.text, path
    # Role names come in the page's language.
    assert "प्रशासक" in client.get("/admin/users", headers={"Accept-Language": "hi"}).text
    assert "प्रशासक" not in client.get("/admin/users").text
