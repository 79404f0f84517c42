"""The changes feed's protocol: where a client starts, pages that lose and repeat nothing, 410
after compaction, refused positions, scopes and ``relist``. Who sees what:
``test_changes_visibility.py``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from polaris.db.uow import unit_of_work
from polaris.events import append
from polaris.events import service as events
from polaris.events.models import DomainEvent
from polaris.identity import program_tokens
from polaris.identity.models import User
from polaris.web.params import MAX_INT64
from tests.drive.conftest import Drive
from tests.drive.feed_support import API, Stream
from tests.factories import SYSTEM

LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def stream(drive: Drive) -> Stream:
    return Stream(drive)


def test_a_new_client_gets_where_to_follow_from_then_lists(stream: Stream) -> None:
    root = stream.drive.root("hc.a1")
    stream.upload("hc.a1", root, "old.pdf")
    head = stream.head()
    response = stream.feed("hc.a1", None)
    assert response.status_code == 200
    assert response.json() == {
        "changes": [],
        "next_position": head,
        "more": False,
        "relist": False,
    }
    # The client lists now, then follows from ``head``: only what came after.
    new = stream.upload("hc.a1", root, "new.pdf")
    assert stream.entries("hc.a1", head) == [(new, "changed")]


def test_since_zero_reads_from_the_first_change_kept(stream: Stream) -> None:
    node = stream.upload("hc.a1", stream.drive.root("hc.a1"), "first.pdf")
    page = stream.read("hc.a1", 0, limit=1000)
    assert (node, "changed") in [(e["node_id"], e["change"]) for e in page["changes"]]
    assert page["next_position"] == stream.head()


def test_pages_resume_where_they_ended_and_lose_and_repeat_nothing(stream: Stream) -> None:
    root = stream.drive.root("hc.a1")
    start = stream.head()
    mine = []
    for n in range(12):
        mine.append(stream.upload("hc.a1", root, f"page-{n}.pdf"))
        if n % 3 == 0:  # changes the reader may not see, between theirs
            stream.upload("hc.b1", stream.drive.root("hc.b1"), f"other-{n}.pdf")
    end = stream.head()
    whole = stream.read("hc.a1", start, limit=1000)
    assert [e["node_id"] for e in whole["changes"]] == mine
    assert (whole["next_position"], whole["more"]) == (end, False)

    since, seen, pages = start, [], 0
    while True:
        page = stream.read("hc.a1", since, limit=5)
        assert page["next_position"] == min(since + 5, end)  # 5 scanned, reported or not
        assert page["more"] is (page["next_position"] < end)
        seen += [e["node_id"] for e in page["changes"]]
        since, pages = page["next_position"], pages + 1
        if not page["more"]:
            break
    assert pages == -(-(end - start) // 5)
    # A file's two events (created, version added) may fall on two pages; each page reports it
    # with its state then, and nothing is left out.
    assert list(dict.fromkeys(seen)) == mine
    assert stream.read("hc.a1", end) == {
        "changes": [],
        "next_position": end,
        "more": False,
        "relist": False,
    }


def test_a_page_of_nothing_visible_still_moves_the_position_on(stream: Stream) -> None:
    start = stream.head()
    for n in range(4):
        stream.upload("hc.b1", stream.drive.root("hc.b1"), f"b-{n}.pdf")
    page = stream.read("hc.a1", start, limit=3)
    assert page == {"changes": [], "next_position": start + 3, "more": True, "relist": False}


def test_positions_compacted_away_answer_410_and_the_client_lists_again(stream: Stream) -> None:
    root = stream.drive.root("hc.a1")
    start = stream.head()
    stream.upload("hc.a1", root, "a.pdf")
    middle = stream.head()
    stream.upload("hc.a1", root, "b.pdf")
    end = stream.head()
    with unit_of_work(stream.drive.instance.sessions) as session:
        session.execute(
            update(DomainEvent).where(DomainEvent.position <= middle).values(created_at=LONG_AGO)
        )
        events.compact(session, retention=dt.timedelta(days=30), keep_after=end)
    for since in (0, start, middle - 1):
        gone = stream.feed("hc.a1", since)
        assert gone.status_code == 410, gone.text
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.json()["code"] == "changes_expired"
    assert stream.read("hc.a1", middle)["next_position"] == end  # kept from here on
    # Everything compacted: only the head itself is still a place to follow from.
    with unit_of_work(stream.drive.instance.sessions) as session:
        session.execute(update(DomainEvent).values(created_at=LONG_AGO))
        events.compact(session, retention=dt.timedelta(days=30), keep_after=end)
    assert stream.feed("hc.a1", middle).status_code == 410
    assert stream.read("hc.a1", end)["changes"] == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"since": -1}, 422, "validation_failed"),
        ({"since": MAX_INT64 + 1}, 422, "validation_failed"),
        ({"since": 2**64}, 422, "validation_failed"),
        ({"since": "soon"}, 422, "validation_failed"),
        ({"since": 0, "limit": 0}, 422, "validation_failed"),
        ({"since": 0, "limit": 1001}, 422, "validation_failed"),
        ({"since": MAX_INT64}, 400, "invalid_position"),
    ],
)
def test_positions_and_limits_out_of_range_are_refused(
    stream: Stream, params: dict[str, object], status: int, code: str
) -> None:
    response = stream.drive.get("hc.a1", f"{API}/changes", params=params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_a_position_not_given_out_yet_is_refused(stream: Stream) -> None:
    head = stream.head()
    refused = stream.feed("hc.a1", head + 1)
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_position")
    assert stream.feed("hc.a1", head).status_code == 200


def test_a_read_token_follows_the_feed(stream: Stream) -> None:
    session = stream.drive.instance.sessions()
    user = session.get(User, stream.drive.user_ids["hc.a1"])
    assert user is not None
    issued = program_tokens.create_token(
        session=session, user=user, name="sync", scopes=["read"], lifetime_days=1, context=SYSTEM
    )
    session.commit()
    session.close()
    response = stream.drive.client.get(
        f"{API}/changes", headers={"Authorization": f"Bearer {issued.secret}"}
    )
    assert response.status_code == 200, response.text
    assert stream.drive.client.get(f"{API}/changes").status_code == 401


def test_a_change_of_the_callers_own_reach_asks_them_to_list_again(stream: Stream) -> None:
    start = stream.head()
    me, unit = stream.drive.user_ids["ct.a1"], stream.drive.unit_ids["PS-A2"]
    stream.stand_in(
        "user.moved", ("user", me), None, unit_id=unit, from_unit_id=stream.drive.unit_ids["PS-A1"]
    )
    assert stream.read("ct.a1", start) == {
        "changes": [],
        "next_position": start + 1,
        "more": False,
        "relist": True,
    }
    stream.hidden(start, "hc.a1", "sdop.a")


@pytest.mark.parametrize(
    ("moved", "parent", "relist"),
    [
        ("PS-A1", "SDV-B", {"ct.a1", "sdop.a"}),  # their unit; below the subdivision head
        ("SDV-A", "DST-B", {"ct.a1", "sdop.a", "hc.a2"}),  # above the stations (sub-unit shares)
        ("PS-B1", "SDV-A", {"sdop.a", "hc.b1"}),  # moved into the subdivision head's reach
        ("PS-B1", "SDV-B", {"hc.b1"}),
    ],
)
def test_a_unit_moved_around_the_callers_asks_them_to_list_again(
    stream: Stream, moved: str, parent: str, relist: set[str]
) -> None:
    start = stream.head()
    ids = stream.drive.unit_ids
    stream.stand_in("unit.moved", ("unit", ids[moved]), None, parent_id=ids[parent])
    for who in ("ct.a1", "sdop.a", "hc.b1", "hc.a2"):
        assert stream.read(who, start)["relist"] is (who in relist), who


def test_changes_of_kinds_the_feed_does_not_know_are_passed_over(stream: Stream) -> None:
    start = stream.head()
    with unit_of_work(stream.drive.instance.sessions) as session:
        append(session, kind="chat.posted", subject=("message", 1), data={"node_id": 1})
    stream.stand_in("version.text_stored", ("version", 1), None, node_id=1)
    page = stream.read("hc.a1", start)
    assert page == {"changes": [], "next_position": start + 2, "more": False, "relist": False}
