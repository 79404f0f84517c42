"""Who may see and do what over WebDAV: the drive's rules, audited, through app passwords only."""

from __future__ import annotations

import json

from sqlalchemy import select

from polaris.audit.models import AuditRecord
from polaris.identity.models import AppPassword
from tests.dav.conftest import HIDDEN_NAME, OTHER_STATION_FILE, UNIT_A1, UNIT_A2, Dav
from tests.factories import PASSWORD


def _records(dav: Dav, **where: str) -> list[AuditRecord]:
    instance = dav.open_instance()
    try:
        with instance.sessions() as session:
            query = select(AuditRecord).order_by(AuditRecord.id)
            for column, value in where.items():
                query = query.where(getattr(AuditRecord, column) == value)
            return list(session.scalars(query))
    finally:
        instance.close()


def _not_found(dav: Dav, method: str, path: str) -> tuple[int, bytes]:
    """Status and body of a refused request, with the path it names taken out of the body."""
    headers = {"Depth": "0"} if method == "PROPFIND" else {}
    status, _, body = dav.request(method, path, headers=headers)
    return status, body.replace(path.removeprefix("/dav").encode(), b"<path>")


def test_the_top_level_lists_the_spaces_the_caller_sees_and_no_other(dav: Dav) -> None:
    status, listing = dav.propfind("/dav/")
    assert status == 207
    assert "<D:href>/dav/hc.a1/</D:href>" in listing
    assert f"<D:href>/dav/{UNIT_A1.replace(' ', '%20')}/</D:href>" in listing
    assert "PS-A2" not in listing and "hc.a2" not in listing


def test_another_stations_files_answer_as_missing_ones(dav: Dav) -> None:
    hidden = _not_found(dav, "GET", f"/dav/{UNIT_A2}/{OTHER_STATION_FILE}")
    missing = _not_found(dav, "GET", f"/dav/{UNIT_A1}/{OTHER_STATION_FILE}")
    assert hidden == missing
    assert hidden[0] == 404
    for path in (f"/dav/{UNIT_A2}/{OTHER_STATION_FILE}", f"/dav/{UNIT_A2}/", "/dav/hc.a2/"):
        assert _not_found(dav, "PROPFIND", path) == _not_found(
            dav, "PROPFIND", "/dav/" + "x" * (len(path) - 5)
        )
    # The other station's own officer sees it, through the same address.
    status, _, body = dav.request("GET", f"/dav/{UNIT_A2}/{OTHER_STATION_FILE}", user="hc.a2")
    assert (status, body) == (200, f"contents of {OTHER_STATION_FILE}".encode())


def test_a_file_above_the_callers_clearance_is_not_listed_and_answers_as_missing(
    dav: Dav,
) -> None:
    status, listing = dav.propfind(f"/dav/{UNIT_A1}/")
    assert status == 207
    assert HIDDEN_NAME not in listing
    hidden = _not_found(dav, "GET", f"/dav/{UNIT_A1}/{HIDDEN_NAME}")
    missing = _not_found(dav, "GET", f"/dav/{UNIT_A1}/{HIDDEN_NAME[::-1]}")
    assert hidden[0] == 404 and hidden == missing
    # The SHO, cleared for it, sees it listed.
    status, listing = dav.propfind(f"/dav/{UNIT_A1}/", user="sho.a1")
    assert status == 207 and HIDDEN_NAME in listing


def test_the_nextcloud_address_serves_only_the_callers_own_name(dav: Dav) -> None:
    status, listing = dav.propfind("/remote.php/dav/files/hc.a1/")
    assert status == 207 and "/remote.php/dav/files/hc.a1/hc.a1/" in listing
    own = _not_found(dav, "PROPFIND", "/remote.php/dav/files/hc.a2/")
    nobody = _not_found(dav, "PROPFIND", "/remote.php/dav/files/xx.yy/")
    assert own[0] == 404 and own == nobody


def test_reads_and_writes_are_audited_as_through_the_api(dav: Dav) -> None:
    assert dav.request("MKCOL", "/dav/hc.a1/audited")[0] == 201
    assert dav.request("PUT", "/dav/hc.a1/audited/a.txt", body=b"audit me")[0] == 201
    assert dav.request("GET", "/dav/hc.a1/audited/a.txt")[0] == 200
    assert dav.request("DELETE", "/dav/hc.a1/audited/a.txt")[0] == 204
    mine = _records(dav, actor_name="hc.a1", auth_factors="app_password")
    actions = [record.action for record in mine]
    for action in ("folder.create", "file.create", "file.read", "node.trash"):
        assert action in actions, actions
    created = next(r for r in mine if r.action == "file.create")
    assert json.loads(created.detail or "{}")["size"] == len(b"audit me")


def test_a_hidden_node_asked_for_by_path_is_an_audited_denial(dav: Dav) -> None:
    assert dav.request("GET", f"/dav/{UNIT_A1}/{HIDDEN_NAME}")[0] == 404
    denials = _records(dav, actor_name="hc.a1", decision="deny", action="node.read")
    assert any(record.reason == "clearance" for record in denials)


def test_a_read_app_password_reads_and_writes_nothing(dav: Dav) -> None:
    secret = dav.secrets["hc.a1:read"]
    assert dav.request("PROPFIND", "/dav/hc.a1/", secret=secret, headers={"Depth": "1"})[0] == 207
    status, _, _ = dav.request("PUT", "/dav/hc.a1/nope.txt", secret=secret, body=b"x")
    assert status == 403
    assert dav.request("GET", "/dav/hc.a1/nope.txt")[0] == 404
    refused = _records(dav, actor_name="hc.a1", decision="deny", reason="token_scope")
    assert any(record.object_id == "PUT /dav/hc.a1/nope.txt" for record in refused)


def test_the_sign_in_password_is_refused_and_the_refusal_audited(dav: Dav) -> None:
    """The SHO's role needs MFA: their password alone opens nothing (nor anyone's)."""
    status, headers, _ = dav.request("PROPFIND", "/dav/", user="sho.a1", secret=PASSWORD)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic ")
    failures = _records(dav, action="auth.app_password_failed")
    assert any(json.loads(r.detail or "{}").get("username") == "sho.a1" for r in failures)
    # Their app password works.
    assert dav.request("PROPFIND", "/dav/", user="sho.a1", headers={"Depth": "1"})[0] == 207
    # Another user's app password under one's own name does not.
    secret = dav.secrets["hc.a2"]
    assert dav.request("PROPFIND", "/dav/", user="hc.a1", secret=secret)[0] == 401


def test_no_credentials_get_a_basic_challenge(dav: Dav) -> None:
    status, headers, _ = dav.server.request("PROPFIND", "/dav/", headers={"Depth": "0"})
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="Polaris", charset="UTF-8"'


def _sign_in(dav: Dav, username: str) -> dict[str, str]:
    cookie, csrf = dav.sign_in(username)
    return {"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"}


def test_app_passwords_are_made_shown_once_listed_and_revoked(dav: Dav) -> None:
    browser = _sign_in(dav, "hc.a2")
    status, _, body = dav.server.request(
        "POST",
        "/api/v1/app-passwords",
        body=json.dumps({"name": "Station PC 3", "scope": "write"}).encode(),
        headers=browser,
    )
    assert status == 201, body
    made = json.loads(body)
    secret = made["password"]
    assert made["scope"] == "write" and secret.startswith(made["prefix"])
    assert (
        dav.request("PROPFIND", "/dav/", user="hc.a2", secret=secret, headers={"Depth": "1"})[0]
        == 207
    )
    status, _, body = dav.server.request("GET", "/api/v1/app-passwords", headers=browser)
    listed = {entry["id"]: entry for entry in json.loads(body)}
    assert "password" not in listed[made["id"]] and not listed[made["id"]]["revoked"]
    instance = dav.open_instance()
    try:
        with instance.sessions() as session:
            row = session.get(AppPassword, made["id"])
            assert row is not None and secret not in (row.secret_hash, row.prefix)
    finally:
        instance.close()
    status, _, _ = dav.server.request(
        "DELETE", f"/api/v1/app-passwords/{made['id']}", headers=browser
    )
    assert status == 204
    status, _, _ = dav.request(
        "PROPFIND", "/dav/", user="hc.a2", secret=secret, headers={"Depth": "1"}
    )
    assert status == 401
    assert {r.action for r in _records(dav, object_type="app_password")} >= {
        "app_password.create",
        "app_password.revoke",
    }


def test_an_app_password_cannot_make_another(dav: Dav) -> None:
    token = dav.secrets["hc.a1"]
    status, _, body = dav.server.request(
        "POST",
        "/api/v1/app-passwords",
        body=b'{"name": "x", "scope": "write"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert status == 401, body


def test_the_settings_page_makes_shows_once_and_revokes(dav: Dav) -> None:
    browser = _sign_in(dav, "hc.a1")
    cookie = {"Cookie": browser["Cookie"]}
    form = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
    csrf = browser["X-CSRF-Token"]
    status, _, page = dav.server.request("GET", "/account/app-passwords", headers=cookie)
    assert status == 200 and b"/dav/" in page
    status, headers, page = dav.server.request(
        "POST",
        "/account/app-passwords",
        body=f"csrf={csrf}&name=Thana+PC&scope=write".encode(),
        headers=form,
    )
    assert status == 200 and headers["Cache-Control"] == "no-store"
    shown = page.decode().split('id="new-app-password">', 1)[1].split("<", 1)[0]
    assert shown.startswith("pap-")
    assert dav.request("PROPFIND", "/dav/", secret=shown, headers={"Depth": "0"})[0] == 207
    status, _, page = dav.server.request("GET", "/account/app-passwords", headers=cookie)
    assert shown not in page.decode() and "Thana PC" in page.decode()
    hindi = {**cookie, "Cookie": browser["Cookie"] + "; polaris_lang=hi"}
    status, _, page = dav.server.request("GET", "/account/app-passwords", headers=hindi)
    assert "ऐप पासवर्ड" in page.decode()
    instance = dav.open_instance()
    try:
        with instance.sessions() as session:
            row = session.scalars(select(AppPassword).where(AppPassword.name == "Thana PC")).one()
    finally:
        instance.close()
    revoke = f"/account/app-passwords/{row.id}/revoke"
    status, _, _ = dav.server.request("POST", revoke, body=f"csrf={csrf}".encode(), headers=form)
    assert status == 303
    assert dav.request("PROPFIND", "/dav/", secret=shown, headers={"Depth": "0"})[0] == 401


def test_one_devices_failures_do_not_throttle_the_rest_of_its_station(dav: Dav) -> None:
    """A device with a revoked password retries for as long as it is on; behind one NAT address
    its failures must not lock the station's other officers out (the source is not counted)."""
    statuses = {
        dav.request("PROPFIND", "/dav/", user="ghost.user", secret="pap-wrong")[0]
        for _ in range(35)
    }
    assert statuses <= {401, 429} and 429 in statuses
    assert dav.request("PROPFIND", "/dav/", headers={"Depth": "0"})[0] == 207
    assert len(_records(dav, action="auth.app_password_failed")) >= 3


LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    b"<D:owner>test</D:owner></D:lockinfo>"
)


def test_only_who_may_write_may_lock(dav: Dav) -> None:
    """A lock blocks others' writes: a constable who may only read the unit's space may not
    take one, and nobody may lock the top level (it would lock every space)."""
    lock = {"Depth": "infinity", "Content-Type": "application/xml", "Timeout": "Second-600"}
    status, _, _ = dav.request(
        "LOCK", f"/dav/{UNIT_A1}/", user="c.a1", body=LOCK_BODY, headers=lock
    )
    assert status == 403
    assert dav.request("PUT", f"/dav/{UNIT_A1}/by-hc.txt", body=b"x")[0] == 201
    denials = _records(dav, actor_name="c.a1", decision="deny", action="node.write")
    assert denials
    assert dav.request("LOCK", "/dav/", body=LOCK_BODY, headers=lock)[0] == 403
    status, headers, _ = dav.request(
        "LOCK", "/dav/hc.a1/", user="hc.a1", body=LOCK_BODY, headers=lock
    )
    assert status == 200
    token = headers["Lock-Token"]
    assert dav.request("UNLOCK", "/dav/hc.a1/", headers={"Lock-Token": token})[0] == 204


def test_a_change_the_caller_may_not_see_moves_none_of_their_etags(dav: Dav) -> None:
    """The SHO writes a new version of the Confidential file: the head constable's ETags and
    dates of the unit's folder and the top level stay as they were; the SHO's move."""

    def stamps(user: str, path: str) -> tuple[str, str]:
        status, listing = dav.propfind(path, depth="0", user=user)
        assert status == 207
        etag = listing.split("<D:getetag>", 1)[1].split("<", 1)[0]
        modified = listing.split("<D:getlastmodified>", 1)[1].split("<", 1)[0]
        return etag, modified

    folder = f"/dav/{UNIT_A1}/"
    before = {(u, p): stamps(u, p) for u in ("hc.a1", "sho.a1") for p in (folder, "/dav/")}
    status, _, _ = dav.request(
        "PUT", f"/dav/{UNIT_A1}/{HIDDEN_NAME}", user="sho.a1", body=b"a new secret"
    )
    assert status == 204
    assert stamps("hc.a1", folder) == before[("hc.a1", folder)]
    assert stamps("hc.a1", "/dav/") == before[("hc.a1", "/dav/")]
    assert stamps("sho.a1", folder)[0] != before[("sho.a1", folder)][0]
    assert stamps("sho.a1", "/dav/")[0] != before[("sho.a1", "/dav/")][0]
