"""The account side of the browser app over HTTP: changing the password, an administrator's reset,
the expired-session notice, and the sign-in steps' enrolment and second-factor pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.clock import utcnow
from polaris.identity import mfa
from polaris.identity.models import User, UserSession
from polaris.identity.tokens import digest
from polaris.instance import Instance
from tests.factories import (
    HANDED_OVER,
    PASSWORD,
    hand_over_password,
    make_user,
)
from tests.web.test_pages import csrf_of

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

NEW_PASSWORD = "monsoon ledger kotwali 2026"
SECRET = re.compile(r'<code class="secret" data-key="([A-Z2-7]+)">')


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the redirect's target."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def other_browser(client: TestClient) -> TestClient:
    """A second browser on the same server: its own cookies."""
    return TestClient(client.app, base_url="https://testserver")


def change_password(
    client: TestClient, current: str, new: str, repeat: str | None = None, **headers: str
) -> object:
    page = client.get("/account/password", headers=headers)
    return client.post(
        "/account/password",
        data={
            "csrf": csrf_of(page.text),
            "current_password": current,
            "new_password": new,
            "repeat_password": new if repeat is None else repeat,
        },
        headers=headers,
        follow_redirects=False,
    )


def can_sign_in(client: TestClient, username: str, password: str) -> bool:
    browser = other_browser(client)
    page = browser.get("/login")
    response = browser.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    return response.status_code == 303


def password_changes(instance: Instance, username: str) -> int:
    session: Session = instance.sessions()
    user = session.scalars(select(User).where(User.username == username)).one()
    records = session.scalars(
        select(AuditRecord).where(
            AuditRecord.action == "auth.password_change", AuditRecord.object_id == str(user.id)
        )
    ).all()
    session.close()
    return len(records)


def test_the_password_page_needs_a_session(client: TestClient) -> None:
    response = client.get("/account/password", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount%2Fpassword"


def test_the_password_form_is_labelled_for_people_and_password_managers(
    client: TestClient,
) -> None:
    sign_in(client, "ct.one")
    page = client.get("/account/password")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    for field, label, autocomplete in [
        ("current_password", "Current password", "current-password"),
        ("new_password", "New password", "new-password"),
        ("repeat_password", "New password again", "new-password"),
    ]:
        assert f'<label for="{field}">{label}</label>' in html
        tag = re.search(rf'<input id="{field}"[^>]*>', html)
        assert tag, field
        assert 'type="password"' in tag.group(0) and "required" in tag.group(0)
        assert f'autocomplete="{autocomplete}"' in tag.group(0)
    assert re.search(r'<input id="current_password"[^>]* autofocus', html)
    assert re.search(r'<input id="new_password"[^>]*aria-describedby="password-rules"', html)
    assert 'autocomplete="username" value="ct.one"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # scripts from the site only


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    seeded: Instance, client: TestClient
) -> None:
    elsewhere = other_browser(client)
    sign_in(elsewhere, "ct.one")
    assert elsewhere.get("/", follow_redirects=False).headers["location"].startswith("/drive/")
    sign_in(client, "ct.one")

    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/account/password?changed=1"  # type: ignore[attr-defined]
    done = client.get("/account/password?changed=1")
    assert re.search(
        r'<p class="notice success" role="status">Your password has been changed\.', done.text
    )
    assert 'action="/account/password"' not in done.text  # done: no form to send again
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/drive/")
    assert elsewhere.get("/", follow_redirects=False).headers["location"] == (
        "/login?next=%2F&expired=1"
    )
    assert password_changes(seeded, "ct.one") == 1
    assert not can_sign_in(client, "ct.one", PASSWORD)
    assert can_sign_in(client, "ct.one", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "status", "message", "field"),
    [
        ("not my password", NEW_PASSWORD, None, 401,
         "Your current password is not right.", "current_password"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", 422,
         "The two new passwords are not the same.", "repeat_password"),
        (PASSWORD, "short1", None, 422,
         "The new password is too short: use at least 8 characters.", "new_password"),
        (PASSWORD, "x" * 129, None, 422,
         "The new password is too long: use at most 128 characters.", "new_password"),
        (PASSWORD, "iloveyou", None, 422,
         "The new password is one that many people use.", "new_password"),
        (PASSWORD, "HC.Kotwali", None, 422,
         "The new password cannot be your username.", "new_password"),
    ],
)  # fmt: skip
def test_a_refused_change_says_why_and_changes_nothing(
    seeded: Instance,
    client: TestClient,
    current: str,
    new: str,
    repeat: str | None,
    status: int,
    message: str,
    field: str,
) -> None:
    session: Session = seeded.sessions()
    make_user(session, "hc.kotwali", role="head_constable")
    session.commit()
    session.close()
    sign_in(client, "hc.kotwali")

    response = change_password(client, current, new, repeat)
    assert response.status_code == status  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    assert re.search(
        rf'<p class="error" role="alert" id="password-error">{re.escape(message)}', html
    )
    invalid = re.findall(r'<input id="(\w+)"[^>]*aria-invalid="true"', html)
    assert invalid == [field]
    assert re.search(rf'<input id="{field}"[^>]*aria-describedby="[^"]*password-error"', html)
    assert new not in html and current not in html  # never echoed back
    assert password_changes(seeded, "hc.kotwali") == 0
    assert can_sign_in(client, "hc.kotwali", PASSWORD)


def test_a_change_without_the_forms_csrf_token_is_refused(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 403
    assert "This form has expired." in response.text
    assert password_changes(seeded, "ct.one") == 0
    assert can_sign_in(client, "ct.one", PASSWORD)


def test_after_an_administrators_reset_sign_in_leads_to_the_password_page(
    seeded: Instance, client: TestClient
) -> None:
    hand_over_password(seeded.sessions, "ct.one")

    assert sign_in(client, "ct.one", HANDED_OVER) == "/account/password"
    page = client.get("/account/password")
    assert "An administrator has set your password." in page.text
    response = change_password(client, HANDED_OVER, NEW_PASSWORD)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert "An administrator has set your password." not in client.get("/account/password").text
    assert sign_in(other_browser(client), "ct.one", NEW_PASSWORD) == "/"


def test_a_due_password_change_holds_every_page_and_api_call_until_it_is_done(
    seeded: Instance, client: TestClient
) -> None:
    """An administrator-issued password: nothing but the change form and sign-out until it is
    changed; pages lead back to the form, the API refuses with ``password_change_required``."""
    hand_over_password(seeded.sessions, "ct.one")
    assert sign_in(client, "ct.one", HANDED_OVER) == "/account/password"
    form = client.get("/account/password")
    assert form.status_code == 200
    assert "Back to my files" not in form.text and 'action="/search"' not in form.text
    for path in ("/", "/search?q=fir", "/shared", "/admin/users"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/account/password", path
    csrf = {"X-CSRF-Token": client.cookies["polaris_csrf"]}
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/spaces"),
        ("GET", "/api/v1/search?q=fir"),
        ("GET", "/api/v1/groups"),
        ("POST", "/api/v1/tokens"),
    ):
        body = {"name": "t", "scopes": ["read"]} if method == "POST" else None
        response = client.request(method, path, json=body, headers=csrf)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "password_change_required", path
    refusals = [
        r for r in audit_records(seeded, "access.read") if r.reason == "password_change_required"
    ]
    assert [r.object_id for r in refusals][:2] == ["GET /", "GET /search"]

    assert change_password(client, HANDED_OVER, NEW_PASSWORD).status_code == 303  # type: ignore[attr-defined]
    assert client.get("/api/v1/me").status_code == 200
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200 and "/account/password" not in str(home.url)


def test_sign_out_works_while_a_password_change_is_due(
    seeded: Instance, client: TestClient
) -> None:
    hand_over_password(seeded.sessions, "ct.one")
    sign_in(client, "ct.one", HANDED_OVER)
    form = client.get("/account/password")
    signed_out = client.post("/logout", data={"csrf": csrf_of(form.text)}, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401


def audit_records(instance: Instance, action: str) -> list[AuditRecord]:
    session: Session = instance.sessions()
    try:
        found = session.scalars(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
        )
        return list(found)
    finally:
        session.close()


def test_an_idle_session_ends_with_a_translated_notice_and_sign_in_returns_there(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    folder = client.get("/", follow_redirects=False).headers["location"]
    session: Session = seeded.sessions()
    row = session.get(UserSession, digest(client.cookies["polaris_session"]))
    assert row is not None
    row.last_seen_at = utcnow() - dt.timedelta(minutes=31)  # the idle timeout is 30 minutes
    session.commit()
    session.close()

    response = client.get(folder, follow_redirects=False)
    assert response.status_code == 303
    login = response.headers["location"]
    assert login == f"/login?next={folder.replace('/', '%2F')}&expired=1"
    english = client.get(login)
    assert (
        '<p class="notice" role="status">Your session has ended. Please sign in again.</p>'
        in english.text
    )
    hindi = client.get(login, headers={"Accept-Language": "hi"})
    assert "आपका सत्र समाप्त हो गया है। कृपया फिर से साइन इन करें।" in hindi.text
    assert "Your session has ended." not in hindi.text
    again = client.post(
        "/login",
        data={
            "username": "ct.one",
            "password": PASSWORD,
            "csrf": csrf_of(english.text),
            "next": folder,
        },
        follow_redirects=False,
    )
    assert again.headers["location"] == folder
    assert "Your session has ended." not in client.get("/login").text


def test_forced_enrolment_says_why_and_offers_sign_out(client: TestClient) -> None:
    assert client.get("/enrol", follow_redirects=False).headers["location"] == "/login"
    assert sign_in(client, "admin.one") == "/enrol"
    page = client.get("/enrol")
    assert (
        "Your role requires a second factor. Set up an authenticator app to continue." in page.text
    )
    assert 'name="password"' not in page.text  # no second password during sign-in
    assert '<form class="sign-out" method="post" action="/logout">' in page.text
    out = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.headers["location"] == "/login"
    assert client.get("/enrol", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def start_enrolment(client: TestClient) -> tuple[str, str]:
    """From the enrolment page: the key shown as text, and the page."""
    enrol = client.get("/enrol")
    started = client.post("/enrol/start", data={"csrf": csrf_of(enrol.text)})
    assert started.status_code == 200
    assert started.headers["cache-control"] == "no-store"
    found = SECRET.search(started.text)
    assert found, "the key is not shown as text"
    return found.group(1), started.text


def test_a_wrong_code_at_enrolment_asks_again_and_keeps_the_key(client: TestClient) -> None:
    sign_in(client, "admin.one")
    secret, page = start_enrolment(client)
    now_codes = {mfa.current_code(secret, at=utcnow().timestamp() + d) for d in (-30, 0, 30)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in now_codes)
    refused = client.post("/enrol/confirm", data={"csrf": csrf_of(page), "code": wrong})
    assert refused.status_code == 422
    assert "That code is not right." in refused.text
    assert SECRET.search(refused.text) is None  # no new key: the one in the app still counts
    assert '<label for="code">' in refused.text and 'href="/enrol"' in refused.text
    done = client.post(
        "/enrol/confirm", data={"csrf": csrf_of(refused.text), "code": mfa.current_code(secret)}
    )
    assert done.status_code == 200
    assert "Your authenticator is set up." in done.text
    assert len(re.findall(r"<li><code>", done.text)) == 10
    assert 'class="button" href="/"' in done.text


def test_from_a_full_session_a_new_authenticator_needs_the_password(client: TestClient) -> None:
    sign_in(client, "admin.one")
    secret, page = start_enrolment(client)
    client.post("/enrol/confirm", data={"csrf": csrf_of(page), "code": mfa.current_code(secret)})
    enrol = client.get("/enrol")
    assert "requires a second factor" not in enrol.text
    assert re.search(r'<input id="password" name="password" type="password"', enrol.text)
    wrong = client.post(
        "/enrol/start", data={"csrf": csrf_of(enrol.text), "password": "not my password"}
    )
    assert wrong.status_code == 401 and "The password is wrong." in wrong.text
    assert SECRET.search(wrong.text) is None
    right = client.post("/enrol/start", data={"csrf": csrf_of(enrol.text), "password": PASSWORD})
    found = SECRET.search(right.text)
    assert found and found.group(1) != secret


def test_the_second_step_takes_recovery_codes_and_offers_sign_out(client: TestClient) -> None:
    sign_in(client, "admin.one")
    secret, page = start_enrolment(client)
    done = client.post(
        "/enrol/confirm", data={"csrf": csrf_of(page), "code": mfa.current_code(secret)}
    )
    codes = re.findall(r"<li><code>([a-z2-9-]+)</code></li>", done.text)
    account = client.get("/account/password")
    client.post("/logout", data={"csrf": csrf_of(account.text)})

    assert sign_in(client, "admin.one").startswith("/login/mfa")
    second = client.get("/login/mfa")
    assert '<form class="sign-out" method="post" action="/logout">' in second.text
    code_input = re.search(r'<input id="code"[^>]*>', second.text)
    assert code_input and "inputmode" not in code_input.group(0)  # recovery codes have letters
    right = client.post(
        "/login/mfa",
        data={"csrf": csrf_of(second.text), "code": codes[0].upper(), "next": "/"},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/"
