"""API tokens do what their scope names and nothing else; docs/security.md lists every route."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.access.routes import scope_table
from polaris.audit.models import AuditRecord
from polaris.identity import program_tokens
from polaris.identity.models import ApiToken, User
from polaris.instance import Instance
from tests.factories import PASSWORD, SYSTEM

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

PROBLEM = "application/problem+json"
STATE_CHANGING = ("post", "put", "patch", "delete")
SECURITY_MD = Path(__file__).parents[2] / "docs" / "security.md"
SCOPE_SECTION = "## Token scopes of every route"


def issue(instance: Instance, username: str, *scopes: str) -> str:
    session: Session = instance.sessions()
    user = session.scalars(select(User).where(User.username == username)).one()
    issued = program_tokens.create_token(
        session=session, user=user, name="t", scopes=list(scopes), lifetime_days=7, context=SYSTEM
    )
    session.commit()
    session.close()
    return issued.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def denials(instance: Instance) -> list[tuple[str, str | None, str | None]]:
    session: Session = instance.sessions()
    try:
        rows = session.execute(
            select(AuditRecord.action, AuditRecord.object_id, AuditRecord.reason)
            .where(AuditRecord.decision == "deny")
            .order_by(AuditRecord.id)
        ).all()
        return [(r.action, r.object_id, r.reason) for r in rows]
    finally:
        session.close()


def test_a_read_token_can_neither_mint_nor_revoke_tokens(
    seeded: Instance, client: TestClient
) -> None:
    read = issue(seeded, "ct.one", "read")
    other = issue(seeded, "ct.one", "write")
    minted = client.post(
        "/api/v1/tokens",
        json={"name": "escalate", "scopes": ["all"], "lifetime_days": 366},
        headers=bearer(read),
    )
    assert minted.status_code == 403, minted.text
    assert minted.headers["content-type"] == PROBLEM
    assert minted.json()["code"] == "token_not_allowed"
    listed = client.get("/api/v1/tokens", headers=bearer(read))
    assert listed.status_code == 403
    other_id = next(t.id for t in _tokens(seeded) if t.prefix == other[:12])
    revoked = client.delete(f"/api/v1/tokens/{other_id}", headers=bearer(read))
    assert revoked.status_code == 403 and revoked.json()["code"] == "token_not_allowed"
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200
    assert len(_tokens(seeded)) == 2
    assert denials(seeded)[-3:] == [
        ("access.session", "POST /api/v1/tokens", "token_not_allowed"),
        ("access.session", "GET /api/v1/tokens", "token_not_allowed"),
        ("access.session", f"DELETE /api/v1/tokens/{other_id}", "token_not_allowed"),
    ]


def _tokens(instance: Instance) -> list[ApiToken]:
    session: Session = instance.sessions()
    try:
        return list(session.scalars(select(ApiToken)))
    finally:
        session.close()


def test_a_read_token_cannot_upload(seeded: Instance, client: TestClient) -> None:
    read = issue(seeded, "ct.one", "read")
    spaces = client.get("/api/v1/spaces", headers=bearer(read))
    assert spaces.status_code == 200
    root = spaces.json()[0]["root_id"]
    refused = client.post(
        "/api/v1/files", params={"parent_id": root, "name": "x.txt"}, content=b"x",
        headers=bearer(read),
    )  # fmt: skip
    assert refused.status_code == 403 and refused.json()["code"] == "token_scope"


def _concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with a value of the right type for each parameter."""
    types = {
        p["name"]: p.get("schema", {}).get("type")
        for p in operation.get("parameters", [])
        if p.get("in") == "path"
    }
    return re.sub(r"\{(\w+)\}", lambda m: "1" if types.get(m.group(1)) == "integer" else "x", path)


def test_every_state_changing_route_refuses_a_read_token(
    seeded: Instance, client: TestClient
) -> None:
    """Walks the OpenAPI: no route that changes anything answers a ``read`` token with success,
    and each refuses it before doing anything, with a problem+json code."""
    read = issue(seeded, "ct.one", "read")
    admin_read = issue(seeded, "admin.one", "read")
    spec = client.get("/api/openapi.json").json()
    walked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in STATE_CHANGING:
                continue
            for secret in (read, admin_read):
                response = client.request(
                    method.upper(), _concrete(path, operation), headers=bearer(secret), json={}
                )
                assert response.status_code == 403, (method, path, response.text)
                assert response.headers["content-type"] == PROBLEM
                assert response.json()["code"] in {"token_scope", "token_not_allowed"}
            walked += 1
    assert walked >= 30
    # Nothing was changed: every refusal but those of the sign-in steps is audited.
    assert all(reason in {"token_scope", "token_not_allowed"} for _, _, reason in denials(seeded))


def test_reading_routes_take_a_read_token_and_administration_needs_all(
    seeded: Instance, client: TestClient
) -> None:
    read = issue(seeded, "ct.one", "read")
    for path in ("/api/v1/me", "/api/v1/spaces", "/api/v1/units", "/api/v1/groups"):
        assert client.get(path, headers=bearer(read)).status_code == 200, path
    admin_read = issue(seeded, "admin.one", "read")
    refused = client.get("/api/v1/admin/users", headers=bearer(admin_read))
    assert refused.status_code == 403 and refused.json()["code"] == "token_scope"
    admin_all = issue(seeded, "admin.one", "all")
    assert client.get("/api/v1/admin/users", headers=bearer(admin_all)).status_code == 200
    officer_all = issue(seeded, "ct.one", "all")
    refused = client.get("/api/v1/admin/users", headers=bearer(officer_all))
    assert refused.status_code == 403 and refused.json()["code"] == "admin_required"


def test_sign_in_steps_refuse_a_token(seeded: Instance, client: TestClient) -> None:
    read = issue(seeded, "ct.one", "read")
    response = client.post(
        "/api/v1/auth/login",
        json={"username": "ct.one", "password": PASSWORD},
        headers=bearer(read),
    )
    assert response.status_code == 403 and response.json()["code"] == "token_not_allowed"


def documented_table() -> str:
    text = SECURITY_MD.read_text(encoding="utf-8")
    assert SCOPE_SECTION in text
    section = text.split(SCOPE_SECTION, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return "\n".join(rows) + "\n"


def test_the_scope_table_in_the_docs_is_the_apps(client: TestClient) -> None:
    table = scope_table(client.get("/api/openapi.json").json())
    assert documented_table() == table, (
        f"docs/security.md's scope table is out of date; under '{SCOPE_SECTION}' put:\n{table}"
    )
