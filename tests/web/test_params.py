"""What the database, the clock or a search engine cannot hold is a 4xx, never a 500 (issue 9).

Each case here was a 500 found by fuzzing: ids of 2^63 and more, search days outside 1677-2262,
an expiry whose conversion to UTC leaves year 9999, a group naming a missing unit, and URLs whose
percent-encoded bytes are not UTF-8 (stored as U+FFFD).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from polaris.drive.models import Node
from polaris.identity import program_tokens
from polaris.identity.models import User, UserGroup
from polaris.instance import Instance
from polaris.web import params
from polaris.web.params import MAX_ID, MAX_INT64
from tests.factories import SYSTEM
from tests.web.test_admin_pages import sign_in_admin
from tests.web.test_api import sign_in
from tests.web.test_pages import csrf_of
from tests.web.test_pages import sign_in as page_sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

TOO_BIG = MAX_INT64 + 1  # 2^63: past every integer column
PAST_IDS = MAX_ID + 1  # 2^31: past PostgreSQL's INTEGER, which id columns are


def bearer(instance: Instance, username: str) -> dict[str, str]:
    with instance.sessions() as session, session.begin():
        user = session.scalars(select(User).where(User.username == username)).one()
        issued = program_tokens.create_token(
            session=session, user=user, name="t", scopes=["all"], lifetime_days=1, context=SYSTEM
        )
        return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def constable(client: TestClient, seeded: Instance) -> dict[str, str]:
    return bearer(seeded, "ct.one")


@pytest.fixture
def admin(client: TestClient, seeded: Instance) -> dict[str, str]:
    return bearer(seeded, "admin.one")


def a_unit_id(client: TestClient, headers: dict[str, str]) -> int:
    return int(client.get("/api/v1/units", headers=headers).json()[0]["id"])


def root_folder(client: TestClient, headers: dict[str, str]) -> int:
    spaces = client.get("/api/v1/spaces", headers=headers).json()
    return int(next(s for s in spaces if s["kind"] == "user")["root_id"])


def assert_problem(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/nodes/{big}"),
        ("GET", "/api/v1/spaces/{big}"),
        ("DELETE", "/api/v1/shares/{big}"),
        ("DELETE", "/api/v1/nodes/{big}"),
        ("GET", "/api/v1/files/{big}/versions/1/content"),
        ("POST", "/api/v1/files/1/versions/{big}/restore"),
        ("POST", "/api/v1/nodes/{big}/restore"),
        ("POST", "/api/v1/files?parent_id={big}&name=a.txt"),
        ("GET", "/api/v1/search?q=a&space_id={big}"),
    ],
)
def test_ids_past_64_bits_are_refused(
    client: TestClient, constable: dict[str, str], method: str, url: str
) -> None:
    body = b"x" if url.startswith("/api/v1/files?") else None
    response = client.request(method, url.format(big=TOO_BIG), headers=constable, content=body)
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize("big", [TOO_BIG, PAST_IDS])
def test_ids_in_bodies_past_the_id_columns_are_refused(
    client: TestClient, constable: dict[str, str], admin: dict[str, str], big: int
) -> None:
    root = root_folder(client, constable)
    for url, body, headers in [
        (f"/api/v1/nodes/{root}/copy", {"parent_id": big}, constable),
        (f"/api/v1/nodes/{root}/shares", {"subject_type": "user", "subject_id": big}, constable),
        ("/api/v1/admin/groups", {"name": "g", "unit_id": big}, admin),
    ]:
        assert_problem(client.post(url, json=body, headers=headers), 422, "validation_failed")
    moved = client.patch(f"/api/v1/nodes/{root}", json={"parent_id": big}, headers=constable)
    assert_problem(moved, 422, "validation_failed")


def test_a_quota_past_64_bits_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    quota = client.put("/api/v1/admin/spaces/1/quota", json={"quota_bytes": TOO_BIG}, headers=admin)
    assert_problem(quota, 422, "validation_failed")


def test_the_largest_id_is_a_plain_not_found_and_the_next_is_refused(
    client: TestClient, constable: dict[str, str]
) -> None:
    assert_problem(client.get(f"/api/v1/nodes/{MAX_ID}", headers=constable), 404, "not_found")
    assert_problem(client.get(f"/api/v1/nodes/{PAST_IDS}", headers=constable), 422)
    assert_problem(client.delete(f"/api/v1/shares/{PAST_IDS}", headers=constable), 422)


def test_every_integer_parameter_and_field_of_the_api_is_bounded(client: TestClient) -> None:
    """A route added later with a bare ``int`` fails here, before a fuzzer finds the 500."""
    spec = client.get("/api/openapi.json").json()
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for schema in _integer_schemas(parameter["schema"], spec):
                    if "maximum" not in schema:
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                for schema in _integer_schemas(media.get("schema", {}), spec):
                    if "maximum" not in schema and "enum" not in schema:
                        unbounded.append(f"{method.upper()} {path} body {schema}")
    assert unbounded == []


def _integer_schemas(schema: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _integer_schemas(spec["components"]["schemas"][name], spec)
    if schema.get("type") == "integer":
        return [schema]
    found = []
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += _integer_schemas(part, spec)
    for part in schema.get("properties", {}).values():
        found += _integer_schemas(part, spec)
    if "items" in schema:
        found += _integer_schemas(schema["items"], spec)
    return found


@pytest.mark.parametrize(
    "query",
    [
        "modified_from=1600-01-01",
        "modified_from=1677-09-21",
        "modified_to=2262-04-12",
        "modified_to=9999-12-31",
        "modified_from=0001-01-01",
    ],
)
def test_search_days_outside_what_the_engines_hold_are_refused(
    client: TestClient, constable: dict[str, str], query: str
) -> None:
    assert_problem(client.get(f"/api/v1/search?q=fir&{query}", headers=constable), 422)


def test_search_days_inside_the_range_are_answered(
    client: TestClient, constable: dict[str, str]
) -> None:
    for query in ("modified_from=1678-01-01", "modified_to=2261-12-31&modified_from=2026-01-01"):
        response = client.get(f"/api/v1/search?q=fir&{query}", headers=constable)
        assert response.status_code == 200, response.text


def test_search_page_refuses_a_day_out_of_range(client: TestClient) -> None:
    sign_in(client)
    response = client.get("/search?q=fir&modified_from=1000-01-01")
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:00:00-23:59", "0001-01-01T00:30:00+23:59"])
def test_share_expiry_that_utc_cannot_hold_is_refused(
    client: TestClient, constable: dict[str, str], expires_at: str
) -> None:
    root = root_folder(client, constable)
    folder = client.post(f"/api/v1/nodes/{root}/folders", json={"name": "F"}, headers=constable)
    response = client.post(
        f"/api/v1/nodes/{folder.json()['id']}/shares",
        json={
            "subject_type": "unit",
            "subject_id": a_unit_id(client, constable),
            "expires_at": expires_at,
        },
        headers=constable,
    )
    assert_problem(response, 422, "validation_failed")


def test_share_expiry_is_stored_in_utc(client: TestClient, constable: dict[str, str]) -> None:
    root = root_folder(client, constable)
    folder = client.post(f"/api/v1/nodes/{root}/folders", json={"name": "F"}, headers=constable)
    response = client.post(
        f"/api/v1/nodes/{folder.json()['id']}/shares",
        json={
            "subject_type": "unit",
            "subject_id": a_unit_id(client, constable),
            "expires_at": "2099-01-01T05:30:00+05:30",
        },
        headers=constable,
    )
    assert response.status_code == 201, response.text
    assert response.json()["expires_at"].startswith("2099-01-01T00:00:00")


def test_a_group_in_a_missing_unit_is_refused(
    client: TestClient, seeded: Instance, admin: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/admin/groups", json={"name": "Night shift", "unit_id": 999999}, headers=admin
    )
    assert_problem(response, 422, "unit_not_found")
    with seeded.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UserGroup)) == 0
    unit_id = a_unit_id(client, admin)
    created = client.post(
        "/api/v1/admin/groups", json={"name": "Night shift", "unit_id": unit_id}, headers=admin
    )
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("encoded", ["%FF", "a%C3", "%C0%AF", "%ED%A0%80", "%E0%A4"])
def test_a_name_that_is_not_utf8_is_refused_and_nothing_stored(
    client: TestClient, seeded: Instance, constable: dict[str, str], encoded: str
) -> None:
    root = root_folder(client, constable)
    response = client.post(
        f"/api/v1/files?parent_id={root}&name={encoded}.txt", content=b"x", headers=constable
    )
    assert_problem(response, 400, "invalid_utf8")
    with seeded.sessions() as session:
        names = session.scalars(select(Node.name).where(Node.parent_id == root)).all()
        assert names == []


def test_a_path_that_is_not_utf8_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/api/v1/admin/users/ct%FF/disable", headers=admin)
    assert_problem(response, 400, "invalid_utf8")


def test_a_page_url_that_is_not_utf8_is_refused(client: TestClient) -> None:
    sign_in(client)
    response = client.get("/search?q=%FF")
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]


def test_percent_encoded_hindi_and_a_literal_replacement_character_are_kept(
    client: TestClient, constable: dict[str, str]
) -> None:
    root = root_folder(client, constable)
    # क्ष with a zero-width joiner, then a real U+FFFD sent as its three UTF-8 bytes.
    for encoded, name in [
        ("%E0%A4%95%E0%A5%8D%E2%80%8D%E0%A4%B7.txt", "\u0915\u094d\u200d\u0937.txt"),
        ("a%EF%BF%BDb.txt", "a\ufffdb.txt"),
        ("two+words.txt", "two words.txt"),
    ]:
        response = client.post(
            f"/api/v1/files?parent_id={root}&name={encoded}", content=b"x", headers=constable
        )
        assert response.status_code == 201, response.text
        assert response.json()["name"] == name


@pytest.mark.parametrize("encoded", ["%EF%BB%BF", "%E2%80%A8", "%E2%80%A9", "%E2%80%8B"])
def test_invisible_characters_in_a_name_are_refused(
    client: TestClient, constable: dict[str, str], encoded: str
) -> None:
    root = root_folder(client, constable)
    response = client.post(
        f"/api/v1/files?parent_id={root}&name=a{encoded}b.txt", content=b"x", headers=constable
    )
    assert_problem(response, 422, "name_invalid")


def test_page_ids_past_64_bits_are_refused(client: TestClient) -> None:
    sign_in(client)
    for url in (f"/drive/{TOO_BIG}", f"/drive/file/{TOO_BIG}", f"/trash/{TOO_BIG}"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert "text/html" in response.headers["content-type"]


@pytest.mark.parametrize("key", ["parent_id", "node_id"])
def test_a_tus_upload_naming_an_id_past_64_bits_is_refused(
    client: TestClient, constable: dict[str, str], key: str
) -> None:
    metadata = f"{key} {base64.b64encode(str(TOO_BIG).encode()).decode()}"
    response = client.post(
        "/api/v1/uploads",
        headers={
            **constable,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "1",
            "Upload-Metadata": f"{metadata},filename {base64.b64encode(b'a.txt').decode()}",
        },
    )
    assert_problem(response, 422, "validation_failed")


def test_a_tus_length_past_64_bits_is_refused(
    client: TestClient, constable: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/uploads",
        headers={**constable, "Tus-Resumable": "1.0.0", "Upload-Length": str(TOO_BIG)},
    )
    assert_problem(response, 422, "bad_header")


def test_the_audit_page_answers_for_the_last_day_of_the_calendar(client: TestClient) -> None:
    sign_in_admin(client)
    response = client.get("/admin/audit?until=9999-12-31")
    assert response.status_code == 200
    before = client.get(f"/admin/audit?before={TOO_BIG}")
    assert before.status_code == 422


def test_a_page_form_that_is_not_utf8_is_refused_and_nothing_stored(
    client: TestClient, seeded: Instance
) -> None:
    page_sign_in(client, "ct.one")
    home = client.get("/", follow_redirects=True)
    root = int(str(home.url).rstrip("/").rsplit("/", 1)[-1])
    csrf = csrf_of(home.text)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refused = client.post(f"/drive/{root}/folders", content=f"csrf={csrf}&name=a%FFb", headers=form)
    assert refused.status_code == 400
    assert "text/html" in refused.headers["content-type"]
    kept = client.post(
        f"/drive/{root}/folders",
        content=f"csrf={csrf}&name=%E0%A4%95+%E2%80%8D",
        headers=form,
        follow_redirects=False,
    )
    assert kept.status_code == 303, kept.text
    with seeded.sessions() as session:
        names = session.scalars(select(Node.name).where(Node.parent_id == root)).all()
        assert names == ["\u0915 \u200d"]


@pytest.mark.parametrize(
    ("raw", "utf8"),
    [
        (b"", True),
        (b"since=s12_3&filter=%7B%22room%22%3A1%7D", True),  # ASCII escapes: not decoded
        (b"name=%E0%A4%A8%E0%A4%BE", True),  # Hindi, escaped
        (b"name=%e0%a4%a8", True),
        (b"name=%FF", False),
        (b"name=%ff", False),
        (b"name=%E0%A4", False),  # cut short
        ("नाम".encode(), True),  # raw UTF-8 bytes
        (b"\xff", False),
    ],
)
def test_only_bytes_over_0x7f_are_decoded_to_be_checked(raw: bytes, utf8: bool) -> None:
    assert params._is_percent_encoded_utf8(raw) is utf8
