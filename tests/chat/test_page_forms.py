"""The chat page's forms that work without the script: a person found by part of their name
and a direct conversation started with them (the picker's field resolved by the server, or its
chosen ``user:<id>``); a group's invitation found, sent, accepted and declined; a group renamed
and a member removed by its owner only; a reply, an edit and a deletion of one's own message
(and nobody else's); the message search page linking to the message in its room. SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from polaris.db import make_engine
from polaris.handlers import settle
from tests.chat.test_api import group
from tests.chat.test_pages import csrf_of
from tests.chat.web_support import ChatSite, chat_site
from tests.conftest import PG_SCHEMA
from tests.support.real_app import migrated

pytestmark = pytest.mark.sqlite_only  # not about the database: tests/conftest.py


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatSite]:
    directory = tmp_path_factory.mktemp("chat-forms")
    with migrated(request.param, directory, PG_SCHEMA + "_chat_forms") as url:
        engine = make_engine(url)
        try:
            with chat_site(engine, directory) as made:
                yield made
        finally:
            engine.dispose()


def test_a_direct_conversation_from_a_name(site: ChatSite) -> None:
    asha, dev = site["asha"], site["dev"]
    found = asha.get("/chat", params={"people": "DE"}).text
    assert "Message Dev" in found and f'name="user_id" value="{dev.user_id}"' in found
    assert "Message Asha" not in asha.get("/chat", params={"people": "ash"}).text  # not oneself
    assert "Nobody found" in asha.get("/chat", params={"people": "d"}).text  # too short
    hindi = asha.client.get(
        "/chat", params={"people": "dev"}, headers={"Accept-Language": "hi"}
    ).text
    assert "Dev को संदेश भेजें" in hindi
    started = asha.client.post(
        "/chat/new/direct",
        data={"csrf": csrf_of(found), "user_id": str(dev.user_id)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    room = started.headers["location"]
    again = asha.client.post(
        "/chat/new/direct",
        data={"csrf": csrf_of(found), "user_id": str(dev.user_id)},
        follow_redirects=False,
    )
    assert again.headers["location"] == room  # the pair's one room
    assert "Direct conversation with Dev" in asha.get(room).text
    assert ">Asha</span>" in dev.get("/chat").text  # listed under the other's name
    myself = asha.client.post(
        "/chat/new/direct", data={"csrf": csrf_of(found), "user_id": str(asha.user_id)}
    )
    assert myself.status_code == 422
    nobody = asha.client.post("/chat/new/direct", data={"csrf": csrf_of(found), "user_id": "0"})
    assert nobody.status_code == 422


def test_the_picker_field_without_and_with_the_script(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    listing = asha.get("/chat").text
    assert 'data-suggest="/api/v1/directory/suggest" data-kinds="user"' in listing
    csrf = csrf_of(listing)
    # Typed text naming one person (an exact username): the conversation at once.
    exact = asha.client.post(
        "/chat/new/direct", data={"csrf": csrf, "people": "dev"}, follow_redirects=False
    )
    assert exact.status_code == 303 and exact.headers["location"].startswith("/chat/")
    # Several match: back to the page with the candidates, a button each.
    several = asha.client.post(
        "/chat/new/direct", data={"csrf": csrf, "people": "PS-A"}, follow_redirects=False
    )
    assert several.headers["location"] == "/chat?people=PS-A#people"
    candidates = asha.get("/chat", params={"people": "PS-A"}).text
    assert f'name="user_id" value="{bala.user_id}"' in candidates
    # The script's choice: exactly that person, whatever was typed.
    chosen = asha.client.post(
        "/chat/new/direct",
        data={"csrf": csrf, "people": "Bala", "person_ref": f"user:{dev.user_id}"},
        follow_redirects=False,
    )
    assert chosen.headers["location"] == exact.headers["location"]
    for bad in ("unit:3", "user:x", "user:0", "user:"):
        refused = asha.client.post(
            "/chat/new/direct", data={"csrf": csrf, "people": "d", "person_ref": bad}
        )
        assert refused.status_code == 422, bad
    # The same suggestions the share form gets, people only.
    found = asha.get("/api/v1/directory/suggest", params={"q": "bala", "kind": "user"}).json()
    assert [entry["ref"] for entry in found] == [f"user:{bala.user_id}"]
    room = group(asha, "चुनाव दल")
    invited = asha.client.post(
        f"/chat/{room}/invite",
        data={"csrf": csrf, "people": "", "person_ref": f"user:{bala.user_id}"},
        follow_redirects=False,
    )
    assert invited.headers["location"] == f"/chat/{room}"
    assert "You are invited to this conversation." in bala.get(f"/chat/{room}").text


def test_rename_and_remove_only_for_moderators(site: ChatSite) -> None:
    asha, bala, chand = site["asha"], site["bala"], site["chand"]
    room = group(asha, "पुराना नाम", bala, chand)
    owner_page = asha.get(f"/chat/{room}").text
    assert 'id="members"' in owner_page and 'action="/chat/' + str(room) + '/rename"' in owner_page
    assert f"/remove/{bala.user_id}" in owner_page and f"/remove/{asha.user_id}" not in owner_page
    member_page = bala.get(f"/chat/{room}").text
    assert 'id="members"' in member_page  # members are listed to every member
    assert "/rename" not in member_page and "/remove/" not in member_page
    csrf = csrf_of(member_page)
    refused = bala.client.post(f"/chat/{room}/rename", data={"csrf": csrf, "name": "मेरा"})
    assert refused.status_code == 403
    kicked = bala.client.post(f"/chat/{room}/remove/{chand.user_id}", data={"csrf": csrf})
    assert kicked.status_code == 403
    renamed = asha.client.post(
        f"/chat/{room}/rename",
        data={"csrf": csrf_of(owner_page), "name": "नया नाम"},
        follow_redirects=False,
    )
    assert renamed.status_code == 303
    assert '<h2 id="room-title">नया नाम</h2>' in bala.get(f"/chat/{room}").text
    blank = asha.client.post(
        f"/chat/{room}/rename", data={"csrf": csrf_of(owner_page), "name": "  "}
    )
    assert blank.status_code == 422
    removed = asha.client.post(
        f"/chat/{room}/remove/{chand.user_id}",
        data={"csrf": csrf_of(owner_page)},
        follow_redirects=False,
    )
    assert removed.headers["location"] == f"/chat/{room}#members"
    assert chand.get(f"/chat/{room}").status_code == 404
    again = asha.client.post(
        f"/chat/{room}/remove/{chand.user_id}", data={"csrf": csrf_of(owner_page)}
    )
    assert again.status_code == 404


def test_invite_accept_and_decline(site: ChatSite) -> None:
    asha, bala, chand = site["asha"], site["bala"], site["chand"]
    room = group(asha, "निमंत्रण दल")
    page = asha.get(f"/chat/{room}", params={"people": "bal"}).text
    assert "Invite Bala" in page
    csrf = csrf_of(page)
    for officer in (bala, chand):
        sent = asha.client.post(
            f"/chat/{room}/invite",
            data={"csrf": csrf, "user_id": str(officer.user_id)},
            follow_redirects=False,
        )
        assert sent.status_code == 303
    invited = bala.get(f"/chat/{room}").text
    assert "You are invited to this conversation." in invited
    joined = bala.client.post(
        f"/chat/{room}/join", data={"csrf": csrf_of(invited)}, follow_redirects=False
    )
    assert joined.status_code == 303
    assert 'id="send"' in bala.get(f"/chat/{room}").text
    declined = chand.client.post(
        f"/chat/{room}/leave", data={"csrf": csrf_of(chand.get("/chat").text)},
        follow_redirects=False,
    )  # fmt: skip
    assert declined.headers["location"] == "/chat"
    assert chand.get(f"/chat/{room}").status_code == 404


def test_reply_edit_and_delete(site: ChatSite) -> None:
    asha, bala = site["asha"], site["bala"]
    room = group(asha, "उत्तर दल", bala)
    first = asha.send(room, "पहला संदेश")["event_id"]
    other = bala.send(room, "bala's own")["event_id"]
    page = bala.get(f"/chat/{room}", params={"reply": first}).text
    assert "Replying to Asha:" in page and f'name="reply_to" value="{first}"' in page
    bala.client.post(
        f"/chat/{room}/send",
        data={"csrf": csrf_of(page), "body": "उत्तर", "reply_to": first},
    )
    shown = asha.get(f"/chat/{room}").text
    assert "In reply to</a> Asha: पहला संदेश" in shown
    # Edit and delete links only on one's own messages.
    assert f"?edit={first}" in shown and f"?edit={other}" not in shown
    form = asha.get(f"/chat/{room}", params={"edit": first}).text
    assert 'id="edit-body"' in form
    edited = asha.client.post(
        f"/chat/{room}/edit/{first}",
        data={"csrf": csrf_of(form), "body": "पहला संदेश, सुधारा"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    now = bala.get(f"/chat/{room}").text
    assert "पहला संदेश, सुधारा" in now and ">edited<" in now
    assert "पहला संदेश</p>" not in now
    refused = bala.client.post(
        f"/chat/{room}/edit/{first}", data={"csrf": csrf_of(now), "body": "not mine"}
    )
    assert refused.status_code == 403
    not_theirs = bala.client.post(f"/chat/{room}/delete/{first}", data={"csrf": csrf_of(now)})
    assert not_theirs.status_code == 403
    deleted = bala.client.post(
        f"/chat/{room}/delete/{other}", data={"csrf": csrf_of(now)}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert "bala&#39;s own" not in asha.get(f"/chat/{room}").text
    # The owner (a moderator) may delete anyone's.
    replies = re.findall(r'data-event="([^"]+)"[^>]*>\s*<p class="meta"><strong>Bala', now)
    assert len(replies) == 2  # bala's own, deleted above, and the reply
    moderated = asha.client.post(
        f"/chat/{room}/delete/{replies[-1]}", data={"csrf": csrf_of(shown)},
        follow_redirects=False,
    )  # fmt: skip
    assert moderated.status_code == 303


def test_message_search_page(site: ChatSite) -> None:
    asha, bala, dev = site["asha"], site["bala"], site["dev"]
    room = group(asha, "खोज दल", bala)
    key = asha.send(room, "चोरी की रिपोर्ट थाने में")["event_id"]
    settle(site.instance)  # the index follows the change stream
    found = bala.get("/chat/search", params={"q": "रिपोर्ट"}).text
    assert "1 message found" in found
    assert f'href="/chat/{room}#m-{key}"' in found and "<mark>रिपोर्ट</mark>" in found
    assert f'id="m-{key}"' in bala.get(f"/chat/{room}").text
    assert "0 messages found" in dev.get("/chat/search", params={"q": "रिपोर्ट"}).text
    bad = bala.get("/chat/search", params={"q": "NOT"}).text
    assert 'role="alert"' in bad
    hindi = bala.client.get(
        "/chat/search", params={"q": "रिपोर्ट"}, headers={"Accept-Language": "hi"}
    )
    assert "1 संदेश मिला" in hindi.text
