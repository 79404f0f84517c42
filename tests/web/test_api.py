"""The HTTP skeleton: sign-in over cookies, CSRF, tokens, problem+json errors, limits, headers."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.models import AuditRecord
from polaris.identity import mfa
from polaris.instance import Instance
from polaris.web.logs import JsonFormatter
from tests.factories import HANDED_OVER, PASSWORD, hand_over_password

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

PROBLEM = "application/problem+json"


def sign_in(client: TestClient, username: str = "ct.one", password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert "/api/v1/tokens" in spec["paths"]


def test_security_headers(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["x-request-id"]


def test_sign_in_sets_strict_http_only_secure_cookie(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "ct.one", "password": PASSWORD})
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("polaris_session=")
    )
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    assert client.get("/api/v1/me").json()["username"] == "ct.one"


def test_wrong_password_and_unknown_user_get_the_same_problem(client: TestClient) -> None:
    bodies = []
    for username in ("ct.one", "no.such.user"):
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": "wrong password"}
        )
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        bodies.append(response.json())
    assert bodies[0] == bodies[1]
    assert bodies[0]["code"] == "invalid_credentials"


def test_throttled_sign_in_answers_429_with_retry_after(client: TestClient) -> None:
    for _ in range(4):
        client.post("/api/v1/auth/login", json={"username": "ct.one", "password": "wrong pass"})
    response = client.post("/api/v1/auth/login", json={"username": "ct.one", "password": PASSWORD})
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response.headers["retry-after"]) >= 1


def test_state_change_by_cookie_needs_the_csrf_token(client: TestClient) -> None:
    csrf = sign_in(client)
    body = {"name": "sync", "scopes": ["read"]}
    refused = client.post("/api/v1/tokens", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    forged = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    accepted = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201


def test_bearer_tokens_forged_and_revoked(client: TestClient) -> None:
    csrf = sign_in(client)
    issued = client.post(
        "/api/v1/tokens",
        json={"name": "rclone", "scopes": ["read"], "lifetime_days": 7},
        headers={"X-CSRF-Token": csrf},
    ).json()
    cookies = dict(client.cookies)
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/me", headers=bearer).json()["username"] == "ct.one"
    forged = client.get("/api/v1/me", headers={"Authorization": "Bearer pol_forged"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_token"
    client.cookies.update(cookies)
    revoked = client.delete(f"/api/v1/tokens/{issued['id']}", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_no_session_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    client.cookies.set("polaris_session", "forged")
    assert client.get("/api/v1/me").json()["code"] == "session_expired"


def test_malformed_json_is_a_clear_problem(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/login",
        content=b'{"username": "x", ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "malformed_json"


def test_invalid_shape_names_the_field(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": "x"})
    assert response.status_code == 422
    assert any(f["field"].endswith("password") for f in response.json()["fields"])


@pytest.mark.parametrize("declared", [True, False])
def test_oversized_body_is_refused(client: TestClient, declared: bool) -> None:
    payload = b'{"username": "' + b"a" * 10_000 + b'", "password": "x"}'
    if declared:
        response = client.post(
            "/api/v1/auth/login", content=payload, headers={"content-type": "application/json"}
        )
    else:

        def chunks():  # type: ignore[no-untyped-def]
            for start in range(0, len(payload), 1000):
                yield payload[start : start + 1000]

        response = client.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_unknown_route_is_a_problem_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_admin_routes_refuse_others_and_access_audits_it(seeded, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    csrf = sign_in(client)
    response = client.get("/api/v1/admin/users")
    assert response.status_code == 403
    assert response.json()["code"] == "admin_required"
    refused = client.post("/api/v1/admin/users/admin.one/disable", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403 and refused.json()["code"] == "admin_required"
    page = client.get("/admin/users")
    assert page.status_code == 403
    assert admin_denials(seeded) == [
        ("GET /api/v1/admin/users", "not_admin", "ct.one"),
        ("POST /api/v1/admin/users/admin.one/disable", "not_admin", "ct.one"),
        ("GET /admin/users", "not_admin", "ct.one"),
    ]


def admin_denials(instance: Instance) -> list[tuple[str | None, str | None, str | None]]:
    session: Session = instance.sessions()
    try:
        rows = session.execute(
            select(AuditRecord.object_id, AuditRecord.reason, AuditRecord.actor_name)
            .where(AuditRecord.action == "access.admin", AuditRecord.decision == "deny")
            .order_by(AuditRecord.id)
        ).all()
        return [(r.object_id, r.reason, r.actor_name) for r in rows]
    finally:
        session.close()


def test_admin_enrols_mfa_then_disables_a_user_whose_session_ends(
    seeded, client: TestClient
) -> None:  # type: ignore[no-untyped-def]
    with TestClient(client.app, base_url="https://testserver") as officer:
        sign_in(officer, "ct.one")
        assert officer.get("/api/v1/me").status_code == 200
        response = client.post(
            "/api/v1/auth/login", json={"username": "admin.one", "password": PASSWORD}
        )
        assert response.json()["stage"] == "enrol"
        csrf = response.json()["csrf_token"]
        assert client.get("/api/v1/admin/users").json()["code"] == "mfa_enrol_required"
        started = client.post("/api/v1/auth/mfa/enrol", json={}, headers={"X-CSRF-Token": csrf})
        secret = started.json()["secret"]
        confirmed = client.post(
            "/api/v1/auth/mfa/confirm",
            json={"code": mfa.current_code(secret)},
            headers={"X-CSRF-Token": csrf},
        ).json()
        assert len(confirmed["recovery_codes"]) == 10
        csrf = confirmed["csrf_token"]
        sessions = client.get("/api/v1/admin/users/ct.one/sessions").json()
        assert len(sessions) == 1 and len(sessions[0]["id"]) == 64
        ended = client.delete(
            f"/api/v1/admin/sessions/{sessions[0]['id']}", headers={"X-CSRF-Token": csrf}
        )
        assert ended.status_code == 204
        assert officer.get("/api/v1/me").status_code == 401
        sign_in(officer, "ct.one")
        disabled = client.post("/api/v1/admin/users/ct.one/disable", headers={"X-CSRF-Token": csrf})
        assert disabled.status_code == 200 and disabled.json()["disabled"]
        assert officer.get("/api/v1/me").status_code == 401


def test_logs_hold_no_password_or_token(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret_password = "Wrong-But-Secret-Passphrase-7731"
    with caplog.at_level(logging.DEBUG, logger="polaris"):
        client.post("/api/v1/auth/login", json={"username": "ct.one", "password": secret_password})
        sign_in(client)
        token = client.cookies.get("polaris_session")
        client.get("/api/v1/me?access_token=leaky-query-value")
    formatter = JsonFormatter()
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    assert '"path": "/api/v1/me"' in logs
    assert secret_password not in logs
    assert token and token not in logs
    assert "leaky-query-value" not in logs


def test_a_due_password_change_is_made_over_the_api_and_nothing_else(
    seeded: Instance, client: TestClient
) -> None:
    hand_over_password(seeded.sessions, "ct.one")
    signed_in = client.post(
        "/api/v1/auth/login", json={"username": "ct.one", "password": HANDED_OVER}
    ).json()
    assert signed_in["must_change_password"] is True
    csrf = {"X-CSRF-Token": signed_in["csrf_token"]}
    refused = client.get("/api/v1/me")
    assert refused.status_code == 403 and refused.json()["code"] == "password_change_required"
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": HANDED_OVER, "new_password": "monsoon ledger 77"},
        headers=csrf,
    )
    assert changed.status_code == 204, changed.text
    assert client.get("/api/v1/me").json()["username"] == "ct.one"
