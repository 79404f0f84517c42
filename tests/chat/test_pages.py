"""The chat pages, rendered on the server: conversations with unread counts, a room's history,
posting a message and a file from the drive by form, a broadcast's acknowledgement table and
the reminder button."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from polaris.db import make_engine
from tests.chat.test_api import group, upload
from tests.chat.web_support import ChatSite, chat_site
from tests.conftest import PG_SCHEMA
from tests.support.real_app import migrated


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatSite]:
    directory = tmp_path_factory.mktemp("chat-pages")
    with migrated("sqlite", directory, PG_SCHEMA + "_chat_pages") as url:
        engine = make_engine(url)
        try:
            with chat_site(engine, directory) as made:
                yield made
        finally:
            engine.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_conversations_room_and_forms(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "पृष्ठ दल", bala)
    asha.send(room, "पहला संदेश <b>not bold</b>")
    listing = bala.get("/chat")
    assert listing.status_code == 200
    assert "पृष्ठ दल" in listing.text
    assert 'id="chat-unread"' in listing.text and 'data-unread="1"' in listing.text
    opened = bala.get(f"/chat/{room}")
    assert "पहला संदेश &lt;b&gt;not bold&lt;/b&gt;" in opened.text
    form = {"csrf": csrf_of(opened.text), "body": "उत्तर: received"}
    posted = bala.client.post(f"/chat/{room}/send", data=form, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == f"/chat/{room}"
    assert "उत्तर: received" in bala.get(f"/chat/{room}").text
    node_id = upload(bala, "memo.txt", b"memo")
    page = bala.get(f"/chat/{room}").text
    assert f'<option value="{node_id}">memo.txt</option>' in page
    attach = {"csrf": csrf_of(page), "node_id": str(node_id)}
    assert (
        bala.client.post(f"/chat/{room}/attach", data=attach, follow_redirects=False).status_code
        == 303
    )
    assert "memo.txt</a>" in asha.get(f"/chat/{room}").text
    no_csrf = bala.client.post(f"/chat/{room}/send", data={"body": "x"}, follow_redirects=False)
    assert no_csrf.status_code == 403


def test_history_pages_back(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "long", bala)
    for n in range(55):
        asha.send(room, f"line {n:02d}")
    latest = bala.get(f"/chat/{room}").text
    assert "line 54" in latest and "line 00" not in latest
    older = re.search(rf'href="/chat/{room}\?before=(\d+)"', latest)
    assert older is not None
    assert "line 00" in bala.get(f"/chat/{room}?before={older.group(1)}").text


def test_a_non_member_gets_not_found(site: ChatSite) -> None:
    asha, dev = site["asha"], site["dev"]
    room = group(asha, "closed page")
    assert dev.get(f"/chat/{room}").status_code == 404
    assert dev.get("/chat/999999").status_code == 404
