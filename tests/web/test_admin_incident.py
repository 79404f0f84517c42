"""The incident switch on the status page: its state (since when in IST, by whom, why), turned on
with a reason and a ticked confirmation and off again, by administrators only, each form with
its CSRF field; while it is on, the switch-off is the one administration form that gets through.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from polaris.instance import Instance
from polaris.web import readonly, times
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

REASON = "ransomware found on PS-A1's workstation"


def incident_part(html: str) -> str:
    found = re.search(r'<section class="incident-switch" id="incident".*?</section>', html, re.S)
    assert found, "no incident section"
    return found.group(0)


def switch_on(client: TestClient, csrf: str, **fields: str) -> object:
    data = {"csrf": csrf, "reason": REASON, "confirm": "yes", **fields}
    return client.post("/admin/incident/on", data={k: v for k, v in data.items() if v})


def test_an_administrator_turns_the_switch_on_and_off(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    page = client.get("/admin/status")
    assert "Off: changes are accepted." in incident_part(page.text)
    csrf = csrf_of(page.text)

    on = switch_on(client, csrf)
    assert on.status_code == 200 and on.url.path == "/admin/status"  # type: ignore[attr-defined]
    shown = incident_part(on.text)  # type: ignore[attr-defined]
    assert "On: the instance is read-only." in shown
    [record] = records(seeded, "incident.on")
    assert (record.actor_name, record.reason) == ("admin.one", REASON)
    since = times.shown(record.at, language="en")
    assert since.endswith(" IST")
    assert f"<dt>Since</dt><dd>{since}</dd>" in shown
    assert "<dt>Turned on by</dt><dd>admin.one</dd>" in shown
    assert "<dd>ransomware found on PS-A1&#39;s workstation</dd>" in shown
    assert "incident-banner" in on.text  # type: ignore[attr-defined]
    assert "The incident switch is on" in on.text  # type: ignore[attr-defined]
    hindi = client.get("/admin/status", headers={"Accept-Language": "hi"})
    assert "घटना स्विच" in hindi.text and "चालू: इंस्टेंस केवल पढ़ने योग्य है।" in hindi.text

    # Every other form is refused while it is on; the switch-off is not.
    assert client.post("/admin/status/audit/run", data={"csrf": csrf}).status_code == 503
    assert switch_on(client, csrf).status_code == 503  # type: ignore[attr-defined]
    off = client.post("/admin/incident/off", data={"csrf": csrf, "confirm": "yes"})
    assert off.status_code == 200 and "Off: changes are accepted." in incident_part(off.text)
    assert "incident-banner" not in off.text
    assert [r.actor_name for r in records(seeded, "incident.off")] == ["admin.one"]
    assert client.post("/admin/status/audit/run", data={"csrf": csrf}).status_code == 200


def test_bad_input_is_explained_and_changes_nothing(seeded: Instance, client: TestClient) -> None:
    sign_in_admin(client)
    csrf = csrf_of(client.get("/admin/status").text)

    unticked = switch_on(client, csrf, confirm="")
    assert unticked.status_code == 422  # type: ignore[attr-defined]
    assert "Tick the box to confirm" in unticked.text  # type: ignore[attr-defined]
    assert 'value="ransomware found on PS-A1&#39;s workstation"' in unticked.text  # type: ignore[attr-defined]
    no_reason = switch_on(client, csrf, reason="   ")
    assert no_reason.status_code == 422  # type: ignore[attr-defined]
    assert "Give the reason" in no_reason.text  # type: ignore[attr-defined]
    too_long = switch_on(client, csrf, reason="x" * 501)
    assert too_long.status_code == 422  # type: ignore[attr-defined]
    assert "The reason is too long" in too_long.text  # type: ignore[attr-defined]
    hindi = client.post(
        "/admin/incident/on",
        data={"csrf": csrf, "reason": REASON},
        headers={"Accept-Language": "hi"},
    )
    assert "पुष्टि के लिए बॉक्स पर सही का निशान लगाएँ" in hindi.text
    not_on = client.post("/admin/incident/off", data={"csrf": csrf, "confirm": "yes"})
    assert not_on.status_code == 409 and "The incident switch is not on." in not_on.text
    assert records(seeded, "incident.on") == [] and records(seeded, "incident.off") == []


def test_only_administrators_may_switch_and_only_with_the_form_token(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    csrf = csrf_of(client.get("/", follow_redirects=True).text)
    refused = switch_on(client, csrf)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "Only administrators may do this." in refused.text  # type: ignore[attr-defined]
    assert records(seeded, "incident.on") == []

    client.cookies.clear()
    sign_in_admin(client)
    no_token = client.post("/admin/incident/on", data={"reason": REASON, "confirm": "yes"})
    assert no_token.status_code == 403 and "This form has expired." in no_token.text
    assert records(seeded, "incident.on") == []
    assert switch_on(client, csrf_of(client.get("/admin/status").text)).status_code == 200  # type: ignore[attr-defined]

    # While it is on, an officer's switch-off gets through the read-only gate, not past access.
    client.cookies.clear()
    sign_in(client, "ct.one")
    csrf = csrf_of(client.get("/", follow_redirects=True).text)
    off = client.post("/admin/incident/off", data={"csrf": csrf, "confirm": "yes"})
    assert off.status_code == 403
    assert records(seeded, "incident.off") == []
    denied = [r.object_id for r in records(seeded, "access.admin") if r.decision == "deny"]
    assert denied == ["POST /admin/incident/on", "POST /admin/incident/off"]


def test_the_read_only_gate_lets_through_no_other_administration_form() -> None:
    admin_paths = {path for path in readonly.ALLOWED_WRITES if path.startswith("/admin")}
    assert admin_paths == {"/admin/incident/off"}
