"""The audit log page: filters, paging back in time, and exports of what the filters match."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from polaris.audit import service as audit
from polaris.audit.context import AuditContext
from polaris.audit.encoding import canonical_json, record_hash
from polaris.identity import units
from polaris.instance import Instance
from polaris.web.sealing import seal_once
from tests.web.test_admin_pages import sign_in_admin
from tests.web.test_pages import sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def actions_on(html: str) -> list[str]:
    return re.findall(r'<code class="action">([a-z_.]+)</code>', html)


def seqs_on(html: str) -> list[int]:
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", html)]


def append(instance: Instance, count: int, *, sealed: bool = True, **values: object) -> None:
    """``count`` records, then sealed as the server's sealer does (unless ``sealed`` is off)."""
    session: Session = instance.sessions()
    context = AuditContext(actor_id=999, actor_name='=HYPERLINK("x")', unit_id=None)
    for n in range(count):
        audit.append(
            session=session,
            context=context,
            action=str(values.get("action", "report.read")),
            object_type="report",
            object_id=str(n),
            detail={"n": n},
        )
    session.commit()
    session.close()
    if sealed:
        seal_once(instance, force=True)


def test_filters_by_user_action_prefix_and_object(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    by_admin = client.get("/admin/audit", params={"user": "admin.one"})
    assert by_admin.status_code == 200
    assert set(actions_on(by_admin.text)) == {
        "auth.password_ok",
        "auth.mfa_enrol_begin",
        "auth.mfa_enrolled",
    }  # the factory, not admin.one, created the users and units
    created = client.get("/admin/audit", params={"action": "user.*"})
    assert set(actions_on(created.text)) == {"user.create"}
    session: Session = seeded.sessions()
    phq = units.get_by_code(session=session, code="PHQ").id
    session.close()
    one_unit = client.get("/admin/audit", params={"object_type": "unit", "object_id": str(phq)})
    assert actions_on(one_unit.text) == ["unit.create"]
    unknown = client.get("/admin/audit", params={"user": "nobody.here"})
    assert "No user has this username." in unknown.text and actions_on(unknown.text) == []
    bad_date = client.get("/admin/audit", params={"since": "31/12/2025"})
    assert "A date is not valid" in bad_date.text


def test_date_range_is_whole_utc_days(client: TestClient) -> None:
    sign_in_admin(client)
    everything = client.get("/admin/audit", params={"since": "2000-01-01", "until": "2999-12-31"})
    assert actions_on(everything.text)
    nothing = client.get("/admin/audit", params={"since": "2000-01-01", "until": "2000-01-02"})
    assert actions_on(nothing.text) == [] and "No audit records match" in nothing.text


def test_pages_go_back_in_time(seeded: Instance, client: TestClient) -> None:
    append(seeded, 70)
    sign_in_admin(client)
    first = client.get("/admin/audit", params={"action": "report.read"})
    seqs = seqs_on(first.text)
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    rest = seqs_on(second.text)
    assert len(rest) == 20 and max(rest) < min(seqs)
    assert 'rel="next"' not in second.text


def test_unsealed_records_are_shown_newest_first_and_exported_once_sealed(
    seeded: Instance, client: TestClient
) -> None:
    append(seeded, 2)
    append(seeded, 1, sealed=False, action="report.print")
    sign_in_admin(client)
    page = client.get("/admin/audit", params={"action": "report.*"})
    assert actions_on(page.text) == ["report.print", "report.read", "report.read"]
    assert page.text.count("Not sealed yet") == 2  # its number and its hash
    exported = client.get("/admin/audit/export", params={"action": "report.*"})
    assert [json.loads(line)["action"] for line in exported.text.splitlines()] == [
        "report.read",
        "report.read",
    ]
    seal_once(seeded, force=True)
    exported = client.get("/admin/audit/export", params={"action": "report.*"})
    assert len(exported.text.splitlines()) == 3


def test_export_json_lines_match_the_cli_export_and_verify(
    seeded: Instance, client: TestClient
) -> None:
    append(seeded, 3)
    sign_in_admin(client)
    response = client.get("/admin/audit/export", params={"action": "report.read"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"].startswith('attachment; filename="polaris-')
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["object_id"] for line in lines] == ["0", "1", "2"]  # oldest first
    session: Session = seeded.sessions()
    cli = io.StringIO()
    audit.export_jsonl(session=session, out=cli)
    session.close()
    assert set(response.text.splitlines()) <= set(cli.getvalue().splitlines())
    for line in lines:  # each line recomputes to its hash, as a SIEM would check
        hashed = line | {
            "at": dt.datetime.fromisoformat(line["at"]),
            "detail": canonical_json(line["detail"]),
        }
        assert record_hash(hashed) == line["hash"]


def test_export_csv_defuses_spreadsheet_formulas(seeded: Instance, client: TestClient) -> None:
    append(seeded, 2)
    sign_in_admin(client)
    response = client.get("/admin/audit/export", params={"action": "report.read", "format": "csv"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2
    assert rows[0]["actor_name"] == '\'=HYPERLINK("x")'
    assert json.loads(rows[1]["detail"]) == {"n": 1}


def test_export_needs_an_administrator(client: TestClient) -> None:
    sign_in(client, "ct.one")
    assert client.get("/admin/audit/export").status_code == 403
