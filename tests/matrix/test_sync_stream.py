"""``matrix.sync`` over the chat services in-process: what an initial and an incremental sync
give, and that every timeline event reaches a member exactly once, in order, whether it was
sequenced before, during or after the sync that could have seen it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from polaris import events
from polaris.chat import messages, rooms
from polaris.chat.live import Hub
from polaris.events import service as event_service
from polaris.matrix import sync
from polaris.matrix.rooms import room_matrix_id
from tests.chat.conftest import PEOPLE, People
from tests.factories import build_tree, make_user

SERVER = "polaris.test"
#: Typing notices of these tests (none): a hub that is never started (so it has no copy of the
#: recent events, and every sync reads the database).
LIVE = Hub(sessionmaker(), redis_url=None, poll_seconds=1.0)


@pytest.fixture
def people(db_session: Session) -> People:
    crowd = People(db_session, build_tree(db_session))
    for name, (unit, role, clearance) in PEOPLE.items():
        crowd.users[name] = make_user(db_session, name, unit=unit, role=role, clearance=clearance)
    db_session.commit()
    return crowd


def caller(people: People, name: str) -> sync.Caller:
    who = people.who(name)
    return sync.Caller(who["session"], who["actor"], who["context"], SERVER, LIVE)


def sequenced(session: Session) -> None:
    events.sequence(session)
    session.commit()


def say(people: People, name: str, room_id: int, text: str) -> str:
    event = messages.send_text(**people.who(name), room_id=room_id, body=text)
    people.session.commit()
    return event.event_key


def texts(body: dict[str, Any], room: str) -> list[str]:
    joined = body["rooms"]["join"].get(room, {})
    return [
        e["content"]["body"]
        for e in joined.get("timeline", {}).get("events", [])
        if e["type"] == "m.room.message"
    ]


def test_every_event_once_in_order_across_initial_and_incremental(people: People) -> None:
    session = people.session
    group = rooms.create_group(
        **people.who("asha"), name="गश्त दल", invite_user_ids=(people.id("bala"),)
    )
    session.commit()
    rooms.join(**people.who("bala"), room_id=group.id)
    session.commit()
    room = room_matrix_id(group.id, SERVER)
    sent = [say(people, "asha", group.id, f"संदेश {n}") for n in range(3)]
    sequenced(session)
    # Two more commit but wait for the sequencer while bala's first sync runs: the initial sync
    # leaves them out, and the next sync gives them.
    say(people, "asha", group.id, "संदेश 3")
    say(people, "asha", group.id, "संदेश 4")
    first = sync.initial(caller(people, "bala"))
    session.commit()
    seen = texts(first.body, room)
    assert seen == ["संदेश 0", "संदेश 1", "संदेश 2"]
    joined = first.body["rooms"]["join"][room]
    # The state is the room's before its timeline; the timeline's state events complete it.
    assert joined["state"]["events"] == []
    kinds = [e["type"] for e in joined["timeline"]["events"]]
    assert kinds[:2] == ["m.room.create", "m.room.name"] and len(kinds) == 8
    token = first.token
    assert sync.incremental(caller(people, "bala"), token).has_data is False
    session.commit()
    sequenced(session)
    say(people, "bala", group.id, "reply 5")  # not sequenced yet: not in the next answer
    step = sync.incremental(caller(people, "bala"), token)
    session.commit()
    seen += texts(step.body, room)
    token = step.token
    sequenced(session)
    step = sync.incremental(caller(people, "bala"), token)
    session.commit()
    seen += texts(step.body, room)
    assert seen == [f"संदेश {n}" for n in range(5)] + ["reply 5"]
    assert len(sent) == 3
    # Caught up: nothing more, and the same token back.
    again = sync.incremental(caller(people, "bala"), step.token)
    assert again.has_data is False and again.token.position == step.token.position


def test_invite_join_rename_receipt_and_leave_reach_the_member(people: People) -> None:
    session = people.session
    sequenced(session)
    start = sync.initial(caller(people, "bala")).token
    session.commit()
    group = rooms.create_group(
        **people.who("asha"), name="थाना", invite_user_ids=(people.id("bala"),)
    )
    session.commit()
    room = room_matrix_id(group.id, SERVER)
    sequenced(session)
    step = sync.incremental(caller(people, "bala"), start)
    session.commit()
    assert room in step.body["rooms"]["invite"] and not step.body["rooms"]["join"]
    rooms.join(**people.who("bala"), room_id=group.id)
    session.commit()
    key = say(people, "asha", group.id, "hello")
    rooms.rename(**people.who("asha"), room_id=group.id, name="थाना (नया)")
    session.commit()
    sequenced(session)
    step = sync.incremental(caller(people, "bala"), step.token)
    session.commit()
    joined = step.body["rooms"]["join"][room]
    timeline = joined["timeline"]["events"]
    assert [e["type"] for e in timeline] == ["m.room.member", "m.room.message", "m.room.name"]
    assert joined["state"]["events"], "a room joined in the batch comes with its state"
    assert joined["unread_notifications"]["notification_count"] == 1
    messages.mark_read(**people.who("bala"), event_key=key)
    session.commit()
    sequenced(session)
    seen_by_asha = sync.incremental(caller(people, "asha"), step.token)
    session.commit()
    receipts = [
        e
        for e in seen_by_asha.body["rooms"]["join"][room]["ephemeral"]["events"]
        if e["type"] == "m.receipt"
    ]
    assert f"@bala:{SERVER}" in receipts[0]["content"][f"${key}"]["m.read"]
    rooms.leave(**people.who("bala"), room_id=group.id)
    session.commit()
    say(people, "asha", group.id, "after bala left")
    sequenced(session)
    step = sync.incremental(caller(people, "bala"), seen_by_asha.token)
    session.commit()
    left = step.body["rooms"]["leave"][room]["timeline"]["events"]
    assert [e["content"]["membership"] for e in left] == ["leave"]
    assert room not in step.body["rooms"]["join"]


def test_a_token_older_than_the_kept_stream_gets_an_initial_sync(people: People) -> None:
    session = people.session
    group = rooms.create_group(**people.who("asha"), name="पुराना")
    session.commit()
    room = room_matrix_id(group.id, SERVER)
    say(people, "asha", group.id, "before")
    sequenced(session)
    token = sync.initial(caller(people, "asha")).token
    session.commit()
    say(people, "asha", group.id, "missed, then compacted")
    sequenced(session)
    head = events.head_position(session)
    assert event_service.compact(session, retention=dt.timedelta(0), keep_after=head) > 0
    session.commit()
    step = sync.incremental(caller(people, "asha"), token)
    session.commit()
    assert texts(step.body, room)[-2:] == ["before", "missed, then compacted"]
    assert step.token.position == head


def test_one_event_per_answer_still_gives_every_row_once(
    people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that ends between one transaction's stream events (a new room's ``create``, then
    its members) loses none of the rows between them (its name and topic)."""
    session = people.session
    sequenced(session)
    token = sync.initial(caller(people, "bala")).token
    session.commit()
    group = rooms.create_group(
        **people.who("asha"), name="नया दल", topic="विषय", invite_user_ids=(people.id("bala"),)
    )
    session.commit()
    rooms.join(**people.who("bala"), room_id=group.id)
    session.commit()
    for n in range(3):
        say(people, "asha", group.id, f"m{n}")
    sequenced(session)
    monkeypatch.setattr(sync, "BATCH", 1)
    room = room_matrix_id(group.id, SERVER)
    kinds: list[str] = []
    for _ in range(50):
        step = sync.incremental(caller(people, "bala"), token)
        session.commit()
        kinds += [e["type"] for e in step.body["rooms"]["join"].get(room, {}).get(
            "timeline", {}).get("events", [])]  # fmt: skip
        if step.token == token:
            break
        token = step.token
    assert kinds == [
        "m.room.create", "m.room.name", "m.room.topic", "m.room.member", "m.room.member",
        "m.room.member", "m.room.message", "m.room.message", "m.room.message",
    ]  # fmt: skip
