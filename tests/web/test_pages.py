"""Browser pages over HTTP: sign-in with MFA, language, folder view, errors and CSRF.

(End-to-end tests in a real browser come with the rest of the browser app.)
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from polaris.audit.context import AuditContext
from polaris.drive import content, spaces
from polaris.identity import mfa
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import PASSWORD

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, username: str, next_url: str = "/") -> object:
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": next_url,
        },
        follow_redirects=False,
    )


def test_sign_in_page_speaks_the_browsers_language(client: TestClient) -> None:
    english = client.get("/login")
    assert english.status_code == 200
    assert "Sign in" in english.text and 'lang="en"' in english.text
    hindi = client.get("/login", headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"})
    assert "साइन इन करें" in hindi.text and 'lang="hi"' in hindi.text
    # No inline script (the CSP forbids it): only scripts loaded from the site.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", english.text))


def test_password_sign_in_lands_in_my_files(client: TestClient) -> None:
    response = sign_in(client, "ct.one")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/"  # type: ignore[attr-defined]
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].startswith("/drive/")
    folder = client.get(home.headers["location"])
    assert folder.status_code == 200
    assert "My files" in folder.text and "This folder is empty." in folder.text


def test_wrong_password_is_a_translated_message_not_a_trace(client: TestClient) -> None:
    page = client.get("/login", headers={"Accept-Language": "hi"})
    response = client.post(
        "/login",
        data={"username": "ct.one", "password": "wrong-password", "csrf": csrf_of(page.text)},
        headers={"Accept-Language": "hi"},
    )
    assert response.status_code == 401
    assert "उपयोगकर्ता नाम या पासवर्ड गलत है।" in response.text
    assert "Traceback" not in response.text


def test_forms_without_csrf_are_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "ct.one", "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired." in response.text
    assert client.cookies.get("polaris_session") is None


def test_roles_that_need_mfa_enrol_and_get_recovery_codes(client: TestClient) -> None:
    response = sign_in(client, "admin.one")
    assert response.headers["location"] == "/enrol"  # type: ignore[attr-defined]
    assert client.get("/", follow_redirects=False).headers["location"] == "/enrol"
    enrol = client.get("/enrol")
    started = client.post("/enrol/start", data={"csrf": csrf_of(enrol.text)})
    assert 'src="data:image/svg+xml' in started.text
    secret = re.search(r'<code class="secret" data-key="([A-Z2-7]+)">', started.text)
    assert secret
    done = client.post(
        "/enrol/confirm",
        data={"csrf": csrf_of(started.text), "code": mfa.current_code(secret.group(1))},
    )
    assert done.status_code == 200
    assert done.headers["cache-control"] == "no-store"
    assert len(re.findall(r"<li><code>", done.text)) == 10
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/drive/")


def test_second_step_with_totp(seeded: Instance, client: TestClient) -> None:
    # Enrol once through the pages, sign out, then sign in again with a code.
    test_roles_that_need_mfa_enrol_and_get_recovery_codes(client)
    folder = client.get("/", follow_redirects=True)
    out = client.post("/logout", data={"csrf": csrf_of(folder.text)}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    response = sign_in(client, "admin.one", "/")
    assert response.headers["location"].startswith("/login/mfa")  # type: ignore[attr-defined]
    page = client.get(response.headers["location"])  # type: ignore[attr-defined]
    wrong = client.post("/login/mfa", data={"csrf": csrf_of(page.text), "code": "000000"})
    assert wrong.status_code == 401 and "That code is not right." in wrong.text
    session: Session = seeded.sessions()
    user = session.query(User).filter_by(username="admin.one").one()
    secret = mfa.open_secret(seeded.auth.mfa_key, user.mfa_secret_sealed, user_id=user.id)  # type: ignore[arg-type]
    last_step = user.mfa_last_step
    session.close()
    assert last_step is not None
    # The code used at enrolment cannot be used again: take the next time step's.
    code = mfa.current_code(secret, at=(last_step + 1) * 30)
    right = client.post(
        "/login/mfa", data={"csrf": csrf_of(page.text), "code": code, "next": "/"},
        follow_redirects=False,
    )  # fmt: skip
    assert right.status_code == 303 and right.headers["location"] == "/"


def test_language_choice_is_remembered(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/language",
        data={"csrf": csrf_of(page.text), "lang": "hi", "next": "/login"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "साइन इन करें" in client.get("/login").text


def test_an_unknown_language_is_refused_and_the_choice_kept(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post(
        "/language",
        data={"csrf": csrf_of(page.text), "lang": "xx", "next": "/login"},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "polaris_lang=xx" not in response.headers.get("set-cookie", "")


def test_hostile_and_hindi_names_display_as_text(seeded: Instance, client: TestClient) -> None:
    session: Session = seeded.sessions()
    user = session.query(User).filter_by(username="ct.one").one()
    actor = actor_for(session=session, user=user, auth_factors="password")
    space = spaces.ensure_user_space(session, user, spaces.SpaceDefaults())
    for name in ["<img src=x onerror=alert(1)>", "प्रथम सूचना रिपोर्ट.pdf"]:
        content.commit_upload(
            session=session,
            actor=actor,
            context=AuditContext.system("test"),
            blobs=seeded.blobs,
            content=b"data",
            parent_id=space.root_id,
            name=name,
        )
    session.commit()
    session.close()
    sign_in(client, "ct.one")
    folder = client.get("/", follow_redirects=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in folder.text
    assert "<img src=x" not in folder.text
    assert "प्रथम सूचना रिपोर्ट.pdf" in folder.text


def test_unknown_pages_and_other_peoples_folders_are_a_plain_404(client: TestClient) -> None:
    sign_in(client, "ct.one")
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert "There is nothing here, or you may not see it." in missing.text
    assert "Traceback" not in missing.text
    assert client.get("/drive/999999").status_code == 404


def test_pages_need_a_session_and_keep_where_you_were_going(client: TestClient) -> None:
    response = client.get("/drive/5?sort=size", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdrive%2F5%3Fsort%3Dsize"


def test_next_never_leaves_the_site(client: TestClient) -> None:
    response = sign_in(client, "ct.one", "//evil.example/")
    assert response.headers["location"] == "/"  # type: ignore[attr-defined]
