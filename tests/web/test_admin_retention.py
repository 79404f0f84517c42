"""The retention rules and legal holds page: rules added (by a unit's code, a username, a folder's
number, a level), changed and deleted; holds placed (here or from a file's page) and lifted, each
through ``drive.retention`` / ``drive.holds`` and audited; bad input explained with what was typed
kept; administrators only, every form with its CSRF field."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from polaris.drive.models import LegalHold, RetentionRule
from polaris.instance import Instance
from tests.web.test_admin_pages import records, sign_in_admin
from tests.web.test_drive_pages import folder, put
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py

PAGE = "/admin/retention"


def rules(
    instance: Instance,
) -> list[tuple[int | None, int | None, int | None, int | None, int | None]]:
    with instance.sessions() as session:
        found = session.scalars(select(RetentionRule).order_by(RetentionRule.id))
        return [
            (r.space_id, r.node_id, r.classification, r.keep_versions_years, r.purge_trash_days)
            for r in found
        ]


def active_holds(instance: Instance) -> list[tuple[int, str]]:
    with instance.sessions() as session:
        found = session.scalars(
            select(LegalHold).where(LegalHold.released_at.is_(None)).order_by(LegalHold.id)
        )
        return [(h.node_id, h.reason) for h in found]


def add(client: TestClient, csrf: str, **fields: str) -> object:
    return client.post(f"{PAGE}/rules", data={"csrf": csrf, **fields})


def test_rules_are_added_changed_and_deleted(seeded: Instance, client: TestClient) -> None:
    case = folder(seeded, "ct.one", "Case 2026-14")
    sign_in_admin(client)
    page = client.get(PAGE)
    assert page.status_code == 200 and "No retention rule yet." in page.text
    assert 'href="/admin/retention" aria-current="page"' in page.text  # in the navigation
    csrf = csrf_of(page.text)

    by_unit = add(client, csrf, scope="space", space="PS-A1", keep_versions_years="7")
    assert by_unit.status_code == 200 and "The rule is saved." in by_unit.text  # type: ignore[attr-defined]
    by_user = add(client, csrf, scope="space", space="ct.one", purge_trash_days="30")
    by_folder = add(client, csrf, scope="folder", folder=str(case), keep_versions_years="10",
                    purge_trash_days="90")  # fmt: skip
    by_level = add(client, csrf, scope="level", level="secret", keep_versions_years="25")
    for answer in (by_user, by_folder, by_level):
        assert answer.status_code == 200  # type: ignore[attr-defined]
    found = rules(seeded)
    assert [r[2:] for r in found] == [
        (None, 7, None),
        (None, None, 30),
        (None, 10, 90),
        (3, 25, None),
    ]
    assert found[2][1] == case

    listed = client.get(PAGE).text
    assert "Folder /Case 2026-14" in listed and f'href="/drive/{case}"' in listed
    assert "<code>PS-A1</code>" in listed and "Space ct.one" in listed
    assert "Every file and folder at the level Secret" in listed
    assert "kept 7 years after they stopped being current" in listed
    assert "purged 30 days after deletion" in listed
    hindi = client.get(PAGE, headers={"Accept-Language": "hi"}).text
    assert "प्रतिधारण नियम" in hindi and "स्तर गुप्त की हर फ़ाइल और फ़ोल्डर" in hindi

    with seeded.sessions() as session:
        ids = list(session.scalars(select(RetentionRule.id).order_by(RetentionRule.id)))
    changed = client.post(f"{PAGE}/rules/{ids[0]}", data={"csrf": csrf, "keep_versions_years": "8",
                                                          "purge_trash_days": "15"})  # fmt: skip
    assert changed.status_code == 200 and rules(seeded)[0][3:] == (8, 15)
    unticked = client.post(f"{PAGE}/rules/{ids[1]}/delete", data={"csrf": csrf})
    assert unticked.status_code == 422 and "Tick the box to confirm" in unticked.text
    deleted = client.post(f"{PAGE}/rules/{ids[1]}/delete", data={"csrf": csrf, "confirm": "yes"})
    assert deleted.status_code == 200 and "The rule is deleted." in deleted.text
    assert len(rules(seeded)) == 3
    gone = client.post(f"{PAGE}/rules/{ids[1]}/delete", data={"csrf": csrf, "confirm": "yes"})
    assert gone.status_code == 404 and "This rule does not exist any more." in gone.text
    assert [r.actor_name for r in records(seeded, "retention.rule_set")] == ["admin.one"] * 5
    assert [r.actor_name for r in records(seeded, "retention.rule_delete")] == ["admin.one"]


def test_bad_rules_are_explained_and_what_was_typed_is_kept(
    seeded: Instance, client: TestClient
) -> None:
    file_id = put(seeded, "ct.one", "fir.txt", b"first information report")
    sign_in_admin(client)
    csrf = csrf_of(client.get(PAGE).text)
    cases = [
        ({"space": "PS-A1", "keep_versions_years": "7"}, 422, "Choose what the rule applies to"),
        ({"scope": "space", "space": "PS-Z9", "keep_versions_years": "7"}, 422,
         "No unit has this code and no user this username."),
        ({"scope": "folder", "folder": "abc", "keep_versions_years": "7"}, 422,
         "No file or folder has this number."),
        ({"scope": "folder", "folder": "999999", "keep_versions_years": "7"}, 422,
         "No file or folder has this number."),
        ({"scope": "folder", "folder": str(file_id), "keep_versions_years": "7"}, 422,
         "A rule applies to a folder, not to a file."),
        ({"scope": "space", "space": "PS-A1"}, 422, "give at least one of the two"),
        ({"scope": "space", "space": "PS-A1", "keep_versions_years": "seven"}, 422,
         "as whole numbers"),
        ({"scope": "space", "space": "PS-A1", "keep_versions_years": "101"}, 422,
         "from 1 to 100 years"),
        ({"scope": "level", "level": "top-secret", "purge_trash_days": "3"}, 422,
         "Choose what the rule applies to"),
    ]  # fmt: skip
    for fields, status, message in cases:
        answer = add(client, csrf, **fields)
        assert answer.status_code == status, fields  # type: ignore[attr-defined]
        assert message in answer.text, fields  # type: ignore[attr-defined]
    kept = add(client, csrf, scope="space", space="PS-Z9", keep_versions_years="7")
    assert 'name="space" value="PS-Z9"' in kept.text  # type: ignore[attr-defined]
    assert 'value="space" checked' in kept.text  # type: ignore[attr-defined]
    assert rules(seeded) == []


def test_a_hold_is_placed_from_the_file_page_and_lifted_here(
    seeded: Instance, client: TestClient
) -> None:
    # The form is on the page of a file the administrator may open (their own, here).
    file_id = put(seeded, "admin.one", "statement.txt", b"witness statement")
    officers = put(seeded, "ct.one", "mine.txt", b"an officer's file")
    sign_in(client, "ct.one")
    assert "Place a legal hold" not in client.get(f"/drive/file/{officers}").text
    client.cookies.clear()
    sign_in_admin(client)
    file_page = client.get(f"/drive/file/{file_id}")
    assert "Place a legal hold" in file_page.text
    csrf = csrf_of(file_page.text)

    empty = client.post("/admin/holds", data={"csrf": csrf, "node": str(file_id), "reason": "",
                                              "next": f"/drive/file/{file_id}"})  # fmt: skip
    assert empty.status_code == 422 and "Give the reason" in empty.text
    assert f'name="node" inputmode="numeric" pattern="[0-9]*" required value="{file_id}"' in (
        empty.text
    )
    placed = client.post("/admin/holds", data={"csrf": csrf, "node": str(file_id),
                                               "reason": "Court order 4471/2026",
                                               "next": f"/drive/file/{file_id}"})  # fmt: skip
    assert placed.status_code == 200 and placed.url.path == f"/drive/file/{file_id}"
    assert "Reason: Court order 4471/2026" in placed.text
    assert "Place a legal hold" not in placed.text  # one hold on it is enough
    twice = client.post("/admin/holds", data={"csrf": csrf, "node": str(file_id),
                                              "reason": "again"})  # fmt: skip
    assert twice.status_code == 409 and "already under a legal hold" in twice.text
    missing = client.post("/admin/holds", data={"csrf": csrf, "node": "999999", "reason": "x"})
    assert missing.status_code == 404 and "No file or folder has this number." in missing.text
    assert active_holds(seeded) == [(file_id, "Court order 4471/2026")]

    listed = client.get(PAGE)
    holds_part = re.search(r'<section id="holds".*?</section>', listed.text, re.S)
    assert holds_part
    assert f'href="/drive/file/{file_id}">/statement.txt</a>' in holds_part.group(0)
    assert "<dt>Placed by</dt><dd>admin.one</dd>" in holds_part.group(0)
    assert re.search(r"<dt>Placed</dt><dd>[^<]+ IST</dd>", holds_part.group(0))

    no_reason = client.post(f"/admin/holds/{file_id}/release", data={"csrf": csrf})
    assert no_reason.status_code == 422 and "Give the reason" in no_reason.text
    lifted = client.post(f"/admin/holds/{file_id}/release",
                         data={"csrf": csrf, "reason": "case closed"})  # fmt: skip
    assert lifted.status_code == 200 and "The legal hold is lifted." in lifted.text
    assert active_holds(seeded) == []
    not_held = client.post(f"/admin/holds/{file_id}/release",
                           data={"csrf": csrf, "reason": "case closed"})  # fmt: skip
    assert not_held.status_code == 409 and "not under a legal hold" in not_held.text
    assert [r.reason for r in records(seeded, "node.hold")] == ["Court order 4471/2026"]
    assert [r.reason for r in records(seeded, "node.release")] == ["case closed"]


def test_only_administrators_and_only_with_the_form_token(
    seeded: Instance, client: TestClient
) -> None:
    file_id = put(seeded, "ct.one", "fir.txt", b"first information report")
    sign_in(client, "ct.one")
    assert client.get(PAGE).status_code == 403
    csrf = csrf_of(client.get("/", follow_redirects=True).text)
    forms = [
        (f"{PAGE}/rules", {"scope": "space", "space": "PS-A1", "keep_versions_years": "7"}),
        (f"{PAGE}/rules/1", {"keep_versions_years": "7"}),
        (f"{PAGE}/rules/1/delete", {"confirm": "yes"}),
        ("/admin/holds", {"node": str(file_id), "reason": "mine"}),
        (f"/admin/holds/{file_id}/release", {"reason": "mine"}),
    ]
    for path, data in forms:
        refused = client.post(path, data={"csrf": csrf, **data})
        assert refused.status_code == 403, path
        assert "Only administrators may do this." in refused.text
    client.cookies.clear()
    sign_in_admin(client)
    for path, data in forms:
        assert client.post(path, data=data).status_code == 403, path  # no CSRF field
    assert rules(seeded) == [] and active_holds(seeded) == []
