"""Drive pages over HTTP: selection (move, copy, delete), folder uploads that reuse folders, the
share form's answers, sizes in Hindi, hidden ids. A file's page and its previews are ingest's:
tests/web/test_preview_pages.py."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from polaris.audit.context import AuditContext
from polaris.audit.models import AuditRecord
from polaris.drive import content, service, spaces
from polaris.drive.models import Node
from polaris.handlers import settle
from polaris.identity import groups, units
from polaris.identity.actors import actor_for
from polaris.identity.models import User
from polaris.instance import Instance
from tests.factories import SYSTEM, make_user
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def png(size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "darkgreen").save(out, format="PNG")
    return out.getvalue()


def put(
    instance: Instance, username: str, name: str, data: bytes, parent: int | None = None
) -> int:
    """Store a file as ``username`` (in their own space unless ``parent``); its node id."""
    session: Session = instance.sessions()
    user = session.scalars(select(User).where(User.username == username)).one()
    actor = actor_for(session=session, user=user, auth_factors="password")
    if parent is None:
        parent = spaces.ensure_user_space(session, user, spaces.SpaceDefaults()).root_id
    located, _, _ = content.commit_upload(
        session=session,
        actor=actor,
        context=AuditContext.system("test"),
        blobs=instance.blobs,
        content=data,
        parent_id=parent,
        name=name,
    )
    session.commit()
    session.close()
    return located.node.id


def folder(instance: Instance, username: str, name: str, parent: int | None = None) -> int:
    session: Session = instance.sessions()
    user = session.scalars(select(User).where(User.username == username)).one()
    actor = actor_for(session=session, user=user, auth_factors="password")
    if parent is None:
        parent = spaces.ensure_user_space(session, user, spaces.SpaceDefaults()).root_id
    located = service.create_folder(
        session=session, actor=actor, context=SYSTEM, parent_id=parent, name=name
    )
    session.commit()
    session.close()
    return located.node.id


def node(instance: Instance, node_id: int) -> Node:
    session: Session = instance.sessions()
    found = session.get(Node, node_id)
    session.close()
    assert found is not None
    return found


def audit_actions(instance: Instance) -> list[str]:
    session: Session = instance.sessions()
    actions = list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)))
    session.close()
    return actions


def test_selected_items_move_into_a_chosen_folder(seeded: Instance, client: TestClient) -> None:
    a = put(seeded, "ct.one", "a.txt", b"a")
    b = put(seeded, "ct.one", "b.txt", b"b")
    target = folder(seeded, "ct.one", "Case 12")
    sign_in(client, "ct.one")
    root = client.get("/", follow_redirects=True)
    root_id = int(str(root.url).rsplit("/", 1)[1])
    chosen = client.post(
        f"/drive/{root_id}/selection",
        data={"csrf": csrf_of(root.text), "action": "move", "ids": [a, b]},
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["location"].startswith("/destination?")
    picker = client.get(chosen.headers["location"])
    assert "a.txt" in picker.text and "Case 12" in picker.text
    into = re.search(r'href="(/destination\?[^"]*at=' + str(target) + r'[^"]*)"', picker.text)
    assert into, "the picker links to the folder"
    inside = client.get(into.group(1).replace("&amp;", "&"))
    assert "Move here" in inside.text
    done = client.post(
        "/destination",
        data={
            "csrf": csrf_of(inside.text),
            "action": "move",
            "ids": f"{a},{b}",
            "target": target,
            "back": root_id,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/drive/{target}"
    assert node(seeded, a).parent_id == target and node(seeded, b).parent_id == target


def test_a_clash_in_the_target_moves_nothing_and_says_why(
    seeded: Instance, client: TestClient
) -> None:
    a = put(seeded, "ct.one", "a.txt", b"a")
    b = put(seeded, "ct.one", "b.txt", b"b")
    target = folder(seeded, "ct.one", "Case 12")
    put(seeded, "ct.one", "b.txt", b"other", parent=target)
    sign_in(client, "ct.one")
    page = client.get(f"/drive/{target}")
    root_id = node(seeded, a).parent_id
    refused = client.post(
        "/destination",
        data={
            "csrf": csrf_of(page.text),
            "action": "move",
            "ids": f"{a},{b}",
            "target": target,
            "back": root_id,
        },
    )
    assert refused.status_code == 422
    assert "Something with this name is already in the folder." in refused.text
    assert node(seeded, a).parent_id == root_id  # all or nothing: a did not move either


def test_copy_and_delete_a_selection(seeded: Instance, client: TestClient) -> None:
    a = put(seeded, "ct.one", "a.txt", b"a")
    target = folder(seeded, "ct.one", "Copies")
    sign_in(client, "ct.one")
    page = client.get(f"/drive/{target}")
    root_id = node(seeded, a).parent_id
    copied = client.post(
        "/destination",
        data={"csrf": csrf_of(page.text), "action": "copy", "ids": str(a), "target": target,
              "back": root_id},
        follow_redirects=False,
    )  # fmt: skip
    assert copied.status_code == 303
    assert "a.txt" in client.get(f"/drive/{target}").text
    assert node(seeded, a).parent_id == root_id  # the original stays
    deleted = client.post(
        f"/drive/{root_id}/selection",
        data={"csrf": csrf_of(page.text), "action": "delete", "ids": [a]},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert node(seeded, a).trashed_at is not None
    nothing = client.post(
        f"/drive/{root_id}/selection",
        data={"csrf": csrf_of(page.text), "action": "delete"},
        follow_redirects=True,
    )
    assert "Select at least one file or folder first." in nothing.text


def test_folder_upload_reuses_a_folder_of_the_same_name(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    page = client.get("/", follow_redirects=True)
    root_id = int(str(page.url).rsplit("/", 1)[1])
    headers = {"X-CSRF-Token": client.cookies["polaris_csrf"]}
    first = client.post(
        f"/api/v1/nodes/{root_id}/folders", json={"name": "स्कैन", "exist_ok": True}, headers=headers
    )
    again = client.post(
        f"/api/v1/nodes/{root_id}/folders", json={"name": "स्कैन", "exist_ok": True}, headers=headers
    )
    plain = client.post(f"/api/v1/nodes/{root_id}/folders", json={"name": "स्कैन"}, headers=headers)
    assert (first.status_code, again.status_code, plain.status_code) == (201, 200, 409)
    assert first.json()["id"] == again.json()["id"]
    put(seeded, "ct.one", "file", b"x", parent=root_id)
    clash = client.post(
        f"/api/v1/nodes/{root_id}/folders", json={"name": "file", "exist_ok": True}, headers=headers
    )
    assert clash.status_code == 409  # a file of that name is not a folder to reuse


def test_share_form_explains_a_mistyped_name_and_keeps_what_was_typed(
    seeded: Instance, client: TestClient
) -> None:
    file_id = put(seeded, "ct.one", "report.pdf", b"%PDF")
    sign_in(client, "ct.one")
    page = client.get(f"/drive/node/{file_id}/shares")
    answer = client.post(
        f"/drive/node/{file_id}/shares",
        data={"csrf": csrf_of(page.text), "subject_type": "unit", "subject": "PS-ZZ9",
              "permission": "edit"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert "No unit matches PS-ZZ9." in answer.text
    assert 'value="PS-ZZ9"' in answer.text
    assert re.search(r'<option value="edit" selected>', answer.text)
    hindi = client.post(
        f"/drive/node/{file_id}/shares",
        data={"csrf": csrf_of(page.text), "subject_type": "user", "subject": "nobody"},
        headers={"Accept-Language": "hi"},
    )
    assert hindi.status_code == 422
    assert "nobody" in hindi.text and "No person matches" not in hindi.text


def test_share_with_a_group_by_name(seeded: Instance, client: TestClient) -> None:
    session: Session = seeded.sessions()
    colleague = make_user(session, "hc.b1", unit="PS-B1", role="head_constable")
    # A group of ct.one's station (ct.one sees it) and one of another (ct.one does not).
    station = units.get_by_code(session=session, code="PS-A1").id
    group = groups.create_group(session=session, name="SIT चोरी", unit_id=station, context=SYSTEM)
    groups.add_member(session=session, group_id=group.id, user_id=colleague.id, context=SYSTEM)
    other = units.get_by_code(session=session, code="PS-B1").id
    groups.create_group(session=session, name="B1 beat", unit_id=other, context=SYSTEM)
    session.commit()
    session.close()
    file_id = put(seeded, "ct.one", "case.pdf", b"%PDF")
    sign_in(client, "ct.one")
    page = client.get(f"/drive/node/{file_id}/shares")
    assert 'data-suggest="/api/v1/directory/suggest"' in page.text
    hidden = client.post(
        f"/drive/node/{file_id}/shares",
        data={"csrf": csrf_of(page.text), "subject_type": "group", "subject": "B1 beat"},
    )
    assert "No group matches B1 beat." in hidden.text
    shared = client.post(
        f"/drive/node/{file_id}/shares",
        data={"csrf": csrf_of(page.text), "subject_type": "group", "subject": "SIT चोरी"},
        follow_redirects=True,
    )
    assert shared.status_code == 200
    assert "SIT चोरी" in shared.text and "Not shared with anyone." not in shared.text


def test_sizes_are_written_in_hindi_on_hindi_pages(seeded: Instance, client: TestClient) -> None:
    put(seeded, "ct.one", "big.bin", b"x" * 3000)
    sign_in(client, "ct.one")
    english = client.get("/", follow_redirects=True)
    assert "2.9 KB" in english.text
    client.cookies.set("polaris_lang", "hi")
    hindi = client.get("/", follow_redirects=True)
    assert "2.9 KB" not in hindi.text


def test_the_text_of_a_file_is_found_by_search(seeded: Instance, client: TestClient) -> None:
    put(seeded, "ct.one", "statement.txt", "गवाह ने कहा कि मोटरसाइकिल चोरी हुई".encode())
    settle(seeded)
    sign_in(client, "ct.one")
    found = client.get("/api/v1/search", params={"q": "मोटरसाइकिल"}).json()
    assert [hit["node"]["name"] for hit in found["hits"]] == ["statement.txt"]
    snippet = found["hits"][0]["snippet"]
    start, end = snippet["spans"][0]
    assert snippet["text"][start:end] == "मोटरसाइकिल"


def _deny_reasons(instance: Instance, object_id: int) -> list[str | None]:
    session: Session = instance.sessions()
    reasons = list(
        session.scalars(
            select(AuditRecord.reason).where(
                AuditRecord.decision == "deny", AuditRecord.object_id == str(object_id)
            )
        )
    )
    session.close()
    return reasons


def test_pages_answer_a_hidden_id_exactly_like_a_missing_one(
    seeded: Instance, client: TestClient
) -> None:
    """Another station's file and folder against ids of nothing: same page, same audited denial."""
    session: Session = seeded.sessions()
    make_user(session, "ct.other", unit="PS-B1")
    session.commit()
    session.close()
    hidden_folder = folder(seeded, "ct.other", "Malkhana")
    hidden_file = put(seeded, "ct.other", "seized.txt", b"not for station A", parent=hidden_folder)
    missing = hidden_file + 1000
    sign_in(client, "ct.one")
    csrf = csrf_of(client.get("/", follow_redirects=True).text)
    gets = [
        "/drive/{id}",
        "/drive/file/{id}",
        "/drive/file/{id}/text",
        "/drive/file/{id}/versions",
        "/drive/file/{id}/preview-status",
        "/drive/node/{id}/shares",
    ]
    posts = [
        ("/drive/{id}/folders", {"name": "probe"}),
        ("/drive/node/{id}/rename", {"name": "probe"}),
        ("/drive/node/{id}/delete", {}),
        ("/drive/node/{id}/restore", {}),
    ]
    requests = [("GET", url, None) for url in gets] + [("POST", url, data) for url, data in posts]
    for method, url, data in requests:
        answers = []
        for node_id in (hidden_file if "file" in url else hidden_folder, missing):
            form = None if data is None else {**data, "csrf": csrf}
            before = len(_deny_reasons(seeded, node_id))
            path = url.format(id=node_id)
            answer = client.request(method, path, data=form)
            assert len(_deny_reasons(seeded, node_id)) == before + 1, (url, node_id)
            # The page echoes its own address (the language form's "next"): that is no leak.
            answers.append((answer, answer.content.replace(path.encode(), b"{path}")))
        (hidden, hidden_body), (absent, absent_body) = answers
        assert hidden.status_code == absent.status_code == 404, url
        assert hidden_body == absent_body, url
        # Content-Length follows the echoed address; the bodies are compared above.
        per_request = {"x-request-id", "date", "content-length"}
        assert {k: v for k, v in hidden.headers.items() if k not in per_request} == {
            k: v for k, v in absent.headers.items() if k not in per_request
        }, url
    assert "missing" in _deny_reasons(seeded, missing)


def test_the_selection_and_the_folder_download_as_a_zip(
    seeded: Instance, client: TestClient
) -> None:
    import zipfile

    a = put(seeded, "ct.one", "a.txt", b"a")
    put(seeded, "ct.one", "b.txt", b"b")
    sign_in(client, "ct.one")
    root = client.get("/", follow_redirects=True)
    root_id = int(str(root.url).rsplit("/", 1)[1])
    assert f'href="/api/v1/nodes/{root_id}/zip"' in root.text
    assert 'value="zip"' in root.text
    chosen = client.post(
        f"/drive/{root_id}/selection",
        data={"csrf": csrf_of(root.text), "action": "zip", "ids": [a]},
    )
    assert chosen.status_code == 200
    assert chosen.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(chosen.content)) as archive:
        assert archive.namelist() == ["a.txt"]
    whole = client.get(f"/api/v1/nodes/{root_id}/zip")
    assert whole.status_code == 200
    with zipfile.ZipFile(io.BytesIO(whole.content)) as archive:
        assert {name.split("/", 1)[1] for name in archive.namelist()} == {"", "a.txt", "b.txt"}


def test_delete_offers_undo_and_the_trash_says_where_it_was(
    seeded: Instance, client: TestClient
) -> None:
    case = folder(seeded, "ct.one", "केस 45")
    file_id = put(seeded, "ct.one", "बयान.txt", b"statement", parent=case)
    sign_in(client, "ct.one")
    listing = client.get(f"/drive/{case}")
    deleted = client.post(
        f"/drive/node/{file_id}/delete",
        data={"csrf": csrf_of(listing.text)},
        follow_redirects=False,
    )
    assert deleted.headers["location"] == f"/drive/{case}?deleted={file_id}"
    after = client.get(deleted.headers["location"])
    assert "Moved to the trash: बयान.txt" in after.text and ">Undo</button>" in after.text

    space_id = node(seeded, file_id).space_id
    trash_page = client.get(f"/trash/{space_id}")
    assert f'<a href="/drive/{case}">/केस 45</a>' in trash_page.text
    assert "Delete forever" not in trash_page.text  # not an administrator

    undone = client.post(
        f"/drive/{case}/undo-delete",
        data={"csrf": csrf_of(after.text), "ids": str(file_id)},
        follow_redirects=False,
    )
    assert undone.status_code == 303
    assert node(seeded, file_id).trashed_at is None
    again = client.get(f"/drive/{case}?deleted={file_id}")
    assert "Moved to the trash" not in again.text  # restored: nothing to undo


def test_versions_say_who_saved_each(seeded: Instance, client: TestClient) -> None:
    file_id = put(seeded, "ct.one", "notes.txt", b"one")
    sign_in(client, "ct.one")
    versions = client.get(f"/drive/file/{file_id}/versions")
    assert versions.status_code == 200
    assert "Saved by" in versions.text
    assert "(ct.one)" in versions.text


def test_an_administrator_deletes_forever_from_the_trash_page_after_confirming(
    seeded: Instance, client: TestClient
) -> None:
    from tests.web.test_admin_pages import sign_in_admin

    file_id = put(seeded, "admin.one", "old.txt", b"old")
    sign_in_admin(client)
    space_id = node(seeded, file_id).space_id
    home = client.get(f"/drive/{node(seeded, file_id).parent_id}")
    client.post(f"/drive/node/{file_id}/delete", data={"csrf": csrf_of(home.text)})
    trash_page = client.get(f"/trash/{space_id}")
    assert "Delete forever" in trash_page.text
    unconfirmed = client.post(
        f"/drive/node/{file_id}/purge",
        data={"csrf": csrf_of(trash_page.text), "space_id": str(space_id)},
        follow_redirects=False,
    )
    assert unconfirmed.headers["location"] == f"/trash/{space_id}?notice=confirm-purge"
    assert "deleting for good cannot be undone" in client.get(unconfirmed.headers["location"]).text
    purged = client.post(
        f"/drive/node/{file_id}/purge",
        data={"csrf": csrf_of(trash_page.text), "space_id": str(space_id), "confirm": "yes"},
        follow_redirects=False,
    )
    assert purged.status_code == 303
    session: Session = seeded.sessions()
    assert session.get(Node, file_id) is None
    session.close()
    assert "node.purge" in audit_actions(seeded)


def test_the_file_page_sets_a_classification_among_the_allowed_levels(
    seeded: Instance, client: TestClient
) -> None:
    file_id = put(seeded, "ct.one", "FIR.txt", b"fir")
    sign_in(client, "ct.one")
    page_ = client.get(f"/drive/file/{file_id}")
    form = page_.text.split('action="/drive/node/', 1)[1].split("</form>")[0]
    options = re.findall(r'<option value="(\w+)"', form)
    assert options == ["unclassified", "restricted"]  # a constable's clearance ends there
    set_ = client.post(
        f"/drive/node/{file_id}/classify",
        data={"csrf": csrf_of(page_.text), "classification": "restricted"},
        follow_redirects=False,
    )
    assert set_.status_code == 303
    assert node(seeded, file_id).classification == 1
    assert "node.classify" in audit_actions(seeded)
    above = client.post(
        f"/drive/node/{file_id}/classify",
        data={"csrf": csrf_of(page_.text), "classification": "secret"},
    )
    assert (
        above.status_code == 403 and "clearance" in above.text.lower()
    ) or above.status_code == 403
    nonsense = client.post(
        f"/drive/node/{file_id}/classify",
        data={"csrf": csrf_of(page_.text), "classification": "top-secret"},
    )
    assert nonsense.status_code == 422
    assert node(seeded, file_id).classification == 1


def test_a_refused_folder_name_keeps_what_was_typed_and_says_why(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    root = client.get("/", follow_redirects=True)
    root_id = int(str(root.url).rsplit("/", 1)[1])
    typed = "अपराध क्र. 45/2026"
    refused = client.post(
        f"/drive/{root_id}/folders", data={"csrf": csrf_of(root.text), "name": typed}
    )
    assert refused.status_code == 422
    assert f'value="{typed}"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert "For a case number such as 45/2026, write 45-2026" in refused.text
    offered = "अपराध क्र. 45\u22152026"
    assert f'value="{offered}"' in refused.text
    made = client.post(
        f"/drive/{root_id}/folders",
        data={"csrf": csrf_of(refused.text), "name": offered},
        follow_redirects=False,
    )
    assert made.status_code == 303
    listing = client.get(f"/drive/{root_id}")
    assert offered in listing.text

    taken = client.post(
        f"/drive/{root_id}/folders", data={"csrf": csrf_of(listing.text), "name": offered}
    )
    assert taken.status_code == 422 and "already in this folder" in taken.text
    hindi = client.post(
        f"/drive/{root_id}/folders",
        data={"csrf": csrf_of(listing.text), "name": "a\u202etxt"},
        headers={"Accept-Language": "hi"},
    )
    assert hindi.status_code == 422 and 'value="a_txt"' in hindi.text
