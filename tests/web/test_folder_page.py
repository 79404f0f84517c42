"""The folder page's server side (issue 14): the grid view by a query parameter, remembered by a
cookie; the rename form opened by ``?rename=`` (both work without a script); file-type icons."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from polaris.drive.filetypes import ICONS, icon_for
from polaris.instance import Instance
from tests.web.test_drive_pages import folder, png, put
from tests.web.test_pages import sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def root_of(client: TestClient) -> int:
    root = client.get("/", follow_redirects=True)
    return int(str(root.url).split("?")[0].rsplit("/", 1)[1])


def is_grid(html: str) -> bool:
    return re.search(r'<table class="nodes folder-rows grid">', html) is not None


def test_the_grid_is_chosen_by_a_link_and_remembered(seeded: Instance, client: TestClient) -> None:
    put(seeded, "ct.one", "scene.png", png())
    sign_in(client, "ct.one")
    root = root_of(client)
    assert not is_grid(client.get(f"/drive/{root}").text)
    chosen = client.get(f"/drive/{root}?view=grid")
    assert chosen.status_code == 200 and is_grid(chosen.text)
    assert "polaris_folder_view=grid" in chosen.headers["set-cookie"]
    assert "HttpOnly" in chosen.headers["set-cookie"]
    assert is_grid(client.get(f"/drive/{root}").text)  # remembered
    assert not is_grid(client.get(f"/drive/{root}?view=list").text)
    assert not is_grid(client.get(f"/drive/{root}").text)


def test_an_unknown_view_is_a_clear_error(seeded: Instance, client: TestClient) -> None:
    sign_in(client, "ct.one")
    root = root_of(client)
    answer = client.get(f"/drive/{root}?view=<script>")
    assert answer.status_code == 422
    assert "<script>" not in answer.text


def test_rename_opens_one_rows_form_without_a_script(seeded: Instance, client: TestClient) -> None:
    a = put(seeded, "ct.one", "a.txt", b"a")
    b = put(seeded, "ct.one", "b.txt", b"b")
    sign_in(client, "ct.one")
    root = root_of(client)
    closed = client.get(f"/drive/{root}").text
    assert f'action="/drive/node/{a}/rename" class="rename-form" hidden' in closed
    opened = client.get(f"/drive/{root}?rename={a}").text
    assert f'action="/drive/node/{a}/rename" class="rename-form">' in opened
    assert f'action="/drive/node/{b}/rename" class="rename-form" hidden' in opened


def test_rows_show_their_type_and_only_allowed_actions(
    seeded: Instance, client: TestClient
) -> None:
    put(seeded, "ct.one", "FIR.pdf", b"%PDF-1.4\n")
    folder(seeded, "ct.one", "Case 7")
    sign_in(client, "ct.one")
    page = client.get(f"/drive/{root_of(client)}").text
    assert "#i-pdf" in page and "#i-folder" in page
    assert re.search(r"/static/icons\.\w+\.svg#i-pdf", page)
    menu = page[page.index('aria-label="Actions for FIR.pdf"') :]
    menu = menu[: menu.index("</ul>")]
    items = re.findall(r'role="menuitem"[^>]*>([^<]+)<', menu)
    assert items == ["Open", "Download", "Rename", "Move", "Copy", "Share", "Versions", "Delete"]


@pytest.mark.parametrize(
    ("kind", "name", "content_type", "icon"),
    [
        ("folder", "Case.pdf", None, "folder"),
        ("file", "FIR 7.PDF", None, "pdf"),
        ("file", "scan", "image/jpeg", "image"),
        ("file", "बयान.odt", None, "document"),
        ("file", "list.xlsx", None, "spreadsheet"),
        ("file", "notes", "text/plain; charset=utf-8", "text"),
        ("file", "evidence.7z", None, "archive"),
        ("file", "call.amr", None, "audio"),
        ("file", "cctv", "video/mp4", "video"),
        ("file", "blob.bin", "application/octet-stream", "file"),
        ("file", "noext", None, "file"),
    ],
)
def test_icon_for(kind: str, name: str, content_type: str | None, icon: str) -> None:
    assert icon_for(kind, name, content_type) == icon
    assert icon == "file" or icon in ICONS
