"""Sharing in the browser without JavaScript: names resolved as the picker does, ambiguity offered
as a choice; "Shared with me" with who and when; a shared folder's path starting at the share;
Move and Delete only where allowed; the header's notification count and the notifications page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from polaris.events import drain
from polaris.instance import Instance
from tests.factories import make_user
from tests.web.test_drive_pages import folder, put
from tests.web.test_pages import csrf_of, sign_in
from tests.web.test_search_statements import counted

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def people(instance: Instance) -> dict[str, int]:
    session: Session = instance.sessions()
    made = {}
    for username, full_name in (("si.sharma", "Rakesh Sharma"), ("hc.sharma", "Mohan Sharma")):
        user = make_user(session, username, unit="PS-B1", role="head_constable")
        user.full_name = full_name
        made[username] = user.id
    session.commit()
    session.close()
    return made


def share_form(client: TestClient, node_id: int, **fields: str) -> object:
    page = client.get(f"/drive/node/{node_id}/shares")
    return client.post(
        f"/drive/node/{node_id}/shares",
        data={"csrf": csrf_of(page.text), "permission": "read", **fields},
        follow_redirects=False,
    )


def test_a_typed_name_is_resolved_and_an_ambiguous_one_offered_as_a_choice(
    seeded: Instance, client: TestClient
) -> None:
    ids = people(seeded)
    file_id = put(seeded, "ct.one", "report.pdf", b"%PDF")
    sign_in(client, "ct.one")
    several = share_form(client, file_id, subject_type="user", subject="sharma")
    assert several.status_code == 422  # type: ignore[attr-defined]
    text = several.text  # type: ignore[attr-defined]
    assert "Several match sharma." in text
    assert f'value="user:{ids["si.sharma"]}"' in text and f'value="user:{ids["hc.sharma"]}"' in text
    chosen = share_form(
        client,
        file_id,
        subject_type="user",
        subject="sharma",
        subject_ref=f"user:{ids['si.sharma']}",
    )
    assert chosen.status_code == 303  # type: ignore[attr-defined]
    # One match is enough, in any case; a unit by its code in lower case, or by its name.
    assert share_form(client, file_id, subject_type="user", subject="RAKESH").status_code == 303  # type: ignore[attr-defined]
    assert share_form(client, file_id, subject_type="unit", subject="ps-b1").status_code == 303  # type: ignore[attr-defined]
    shown = client.get(f"/drive/node/{file_id}/shares").text
    assert "si.sharma" in shown and "Unit PS-B1" in shown
    # A malformed reference is ignored: what was typed decides.
    odd = share_form(client, file_id, subject_type="user", subject="nobody", subject_ref="user:x")
    assert odd.status_code == 422  # type: ignore[attr-defined]
    assert "No person matches nobody." in odd.text  # type: ignore[attr-defined]


def test_shared_with_me_names_who_and_when_and_opens_a_files_page(
    seeded: Instance, client: TestClient
) -> None:
    people(seeded)
    file_id = put(seeded, "ct.one", "seizure list.txt", b"list")
    sign_in(client, "ct.one")
    assert share_form(client, file_id, subject_type="user", subject="si.sharma").status_code == 303  # type: ignore[attr-defined]
    client.cookies.clear()
    sign_in(client, "si.sharma")
    page = client.get("/shared").text
    assert f'href="/drive/file/{file_id}"' in page
    assert "/content" not in page
    assert "Ct.One" in page and " IST" in page
    assert client.get(f"/drive/file/{file_id}").status_code == 200


def test_a_shared_folders_path_starts_at_the_share_and_hides_what_is_not_allowed(
    seeded: Instance, client: TestClient
) -> None:
    people(seeded)
    outer = folder(seeded, "ct.one", "Cases")
    shared = folder(seeded, "ct.one", "FIR 12", parent=outer)
    inner = folder(seeded, "ct.one", "Photos", parent=shared)
    put(seeded, "ct.one", "statement.txt", b"s", parent=shared)
    sign_in(client, "ct.one")
    own = client.get(f"/drive/{shared}").text
    assert 'value="move"' in own and 'value="delete"' in own
    assert "My files" in own and f'href="/drive/{outer}"' in own
    assert share_form(client, shared, subject_type="user", subject="si.sharma").status_code == 303  # type: ignore[attr-defined]
    client.cookies.clear()
    sign_in(client, "si.sharma")
    page = client.get(f"/drive/{inner}").text
    crumbs = page.split('class="crumbs"', 1)[1].split("</ol>", 1)[0]
    assert re.findall(r'href="([^"]+)"', crumbs) == ["/shared", f"/drive/{shared}"]
    assert "My files" not in crumbs and "Cases" not in crumbs
    listing = client.get(f"/drive/{shared}").text
    assert 'value="move"' not in listing and 'value="delete"' not in listing
    assert 'value="copy"' in listing
    assert "/trash/" not in listing
    # The server still refuses what is not offered.
    refused = client.post(
        f"/drive/{shared}/selection",
        data={"csrf": csrf_of(listing), "action": "delete", "ids": str(inner)},
    )
    assert refused.status_code in (403, 404)


def test_the_header_counts_unread_notifications_and_the_page_marks_them_read(
    seeded: Instance, client: TestClient
) -> None:
    people(seeded)
    drain(seeded.sessions)  # the notifier starts at the head of the stream
    file_id = put(seeded, "ct.one", "memo.txt", b"m")
    sign_in(client, "ct.one")
    share_form(client, file_id, subject_type="unit", subject="PS-B1")
    drain(seeded.sessions)
    client.cookies.clear()
    sign_in(client, "hc.sharma")
    page = client.get("/shared").text
    badge = page.split('id="notifications-unread"', 1)[1].split("</span></a>", 1)[0]
    assert "hidden" not in badge.split(">", 1)[0] and badge.rstrip().endswith("1")
    listed = client.get("/notifications").text
    assert "Ct.One shared memo.txt with you" in listed
    assert f'href="/drive/file/{file_id}"' in listed
    done = client.post(
        "/notifications/read", data={"csrf": csrf_of(listed)}, follow_redirects=True
    ).text
    badge = done.split('id="notifications-unread"', 1)[1].split(">", 1)[0]
    assert "hidden" in badge
    assert "Mark all as read" not in done
    hindi = client.get("/notifications", headers={"Accept-Language": "hi"}).text
    assert "ने memo.txt आपके साथ साझा किया" in hindi


def test_the_header_has_no_notification_link_before_sign_in(client: TestClient) -> None:
    assert "notifications-unread" not in client.get("/login").text


def test_a_shared_folder_page_costs_the_same_statements_for_3_rows_and_30(
    seeded: Instance, client: TestClient
) -> None:
    """What a recipient may do is decided for the page at once (``Permissions``, the crumbs'
    ``can_each``): no statement per row or per crumb."""
    people(seeded)
    top = folder(seeded, "ct.one", "top")
    small = folder(seeded, "ct.one", "small", parent=top)
    large = folder(seeded, "ct.one", "large", parent=top)
    for n in range(3):
        put(seeded, "ct.one", f"s{n}.txt", b"s", parent=small)
    for n in range(30):
        put(seeded, "ct.one", f"l{n}.txt", b"l", parent=large)
    sign_in(client, "ct.one")
    assert share_form(client, top, subject_type="user", subject="si.sharma").status_code == 303  # type: ignore[attr-defined]
    client.cookies.clear()
    sign_in(client, "si.sharma")
    client.get(f"/drive/{small}")  # the session's first use may write; not counted
    counts = []
    for folder_id in (small, large):
        with counted(seeded) as statements:
            page = client.get(f"/drive/{folder_id}")
        assert page.status_code == 200
        assert 'value="delete"' not in page.text
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
