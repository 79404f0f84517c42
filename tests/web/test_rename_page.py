"""The folder page's rename form over HTTP: a refused name gives the page back with the row's
form open, what was typed, the reason (English and Hindi) and a name to use instead."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from polaris.drive.models import Node
from polaris.instance import Instance
from tests.web.test_drive_pages import folder, put
from tests.web.test_pages import csrf_of, sign_in

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


def _root(client: TestClient) -> tuple[int, str]:
    root = client.get("/", follow_redirects=True)
    return int(str(root.url).rsplit("/", 1)[1]), root.text


def _name(instance: Instance, node_id: int) -> str:
    session: Session = instance.sessions()
    try:
        node = session.get(Node, node_id)
        assert node is not None
        return node.name
    finally:
        session.close()


def _rename(client: TestClient, node_id: int, csrf: str, name: str, lang: str = "en") -> str:
    answer = client.post(
        f"/drive/node/{node_id}/rename",
        data={"csrf": csrf, "name": name},
        headers={"Accept-Language": lang},
    )
    assert answer.status_code == 422, answer.text[:300]
    # The row's form is open (not hidden), keeps what was typed and points at the reason.
    form = re.search(
        rf'<form method="post" action="/drive/node/{node_id}/rename" class="rename-form"[^>]*>',
        answer.text,
    )
    assert form is not None and "hidden" not in form.group(0)
    assert f'aria-describedby="rename-{node_id}-error"' in answer.text
    assert f'id="rename-{node_id}-error" role="alert"' in answer.text
    return answer.text


def test_a_refused_rename_keeps_what_was_typed_says_why_and_offers_a_name(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "ct.one")
    root_id, _ = _root(client)
    file_id = put(seeded, "ct.one", "FIR.txt", b"fir")
    folder(seeded, "ct.one", "अपराध क्र. 44-2026", parent=root_id)
    csrf = csrf_of(client.get(f"/drive/{root_id}").text)

    typed = "अपराध क्र. 45/2026"
    slash = _rename(client, file_id, csrf, typed)
    assert f'value="{typed}"' in slash
    assert "For a case number such as 45/2026, write 45-2026" in slash
    offered = "अपराध क्र. 45\u22152026"
    assert f'value="{offered}"' in slash and "Rename to “" in slash
    # The links of a page given back by a POST lead to the folder, not to the POST's address.
    assert f'href="/drive/{root_id}?sort=name' in slash
    assert _name(seeded, file_id) == "FIR.txt"

    hindi = _rename(client, file_id, csrf, typed, lang="hi")
    assert "45-2026" in hindi and "A name cannot contain" not in hindi

    taken = _rename(client, file_id, csrf, "अपराध क्र. 44-2026")
    assert "already in this folder" in taken and 'value="अपराध क्र. 44-2026"' in taken
    taken_hi = _rename(client, file_id, csrf, "अपराध क्र. 44-2026", lang="hi")
    assert "already in this folder" not in taken_hi

    nul = _rename(client, file_id, csrf, "FIR\x00.txt")
    assert "invisible control character" in nul and 'value="FIR_.txt"' in nul
    bidi = _rename(client, file_id, csrf, "a\u202etxt", lang="hi")
    assert 'value="a_txt"' in bidi and "invisible control character" not in bidi
    long = _rename(client, file_id, csrf, "क" * 90)
    assert "at most 255 bytes" in long
    assert f'value="{"क" * 85}"' in long  # cut to whole letters under 255 bytes
    assert _name(seeded, file_id) == "FIR.txt"

    # The offered name is accepted: back to the folder, renamed.
    done = client.post(
        f"/drive/node/{file_id}/rename",
        data={"csrf": csrf, "name": offered},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/drive/{root_id}"
    assert _name(seeded, file_id) == offered


def test_a_rename_of_a_hidden_node_is_refused_like_a_missing_one(
    seeded: Instance, client: TestClient
) -> None:
    sign_in(client, "admin.one")
    hidden = put(seeded, "admin.one", "secret.txt", b"s")
    client.cookies.clear()
    sign_in(client, "ct.one")
    _, text = _root(client)
    csrf = csrf_of(text)
    refused = client.post(f"/drive/node/{hidden}/rename", data={"csrf": csrf, "name": "a/b"})
    missing = client.post("/drive/node/99999999/rename", data={"csrf": csrf, "name": "a/b"})
    assert refused.status_code == missing.status_code == 404
    assert "secret.txt" not in refused.text
