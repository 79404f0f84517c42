"""Notifications of the messenger, made by the ``notifications.chat`` consumer from chat's change
events in batches (both databases): one per direct room while unread (replaced, not added to, and
read with the room), being added or invited to a group, a broadcast to acknowledge (read once
acknowledged); a batch handed over twice tells nobody twice; a room left is not shown."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from polaris import events
from polaris.chat import broadcasts, messages, rooms
from polaris.notifications import service
from polaris.notifications.chat import FOLLOWED, follow_chat
from polaris.notifications.models import Notification
from tests.chat.conftest import PEOPLE, People, stream_since
from tests.factories import build_tree, make_user
from tests.support.statements import counting


@pytest.fixture
def crowd(db_session: Session) -> People:
    """The chat tests' people (``tests/chat/conftest.py``)."""
    found = People(db_session, build_tree(db_session))
    for name, (unit, role, clearance) in PEOPLE.items():
        found.users[name] = make_user(db_session, name, unit=unit, role=role, clearance=clearance)
    db_session.commit()
    return found


class Follower:
    """Hands the consumer what chat appended since the last hand-over, as the runner would."""

    def __init__(self, people: People) -> None:
        self.people = people
        events.sequence(people.session)
        self.after = events.head_position(people.session)

    def run(self, *, again: bool = False) -> None:
        batch = stream_since(self.people.session, self.after, FOLLOWED)
        follow_chat(self.people.session, batch)
        if again:
            follow_chat(self.people.session, batch)
        if batch:
            self.after = batch[-1].position
        self.people.session.flush()


def shown(people: People, name: str) -> list[tuple[str, bool, str]]:
    """(text, read, url) of what ``name``'s list shows, newest first."""
    items, _ = service.listing(session=people.session, actor=people.actor(name))
    return [(item.message % item.values, item.read, item.url) for item in items]


def rows(people: People, name: str) -> int:
    return people.session.query(Notification).filter_by(user_id=people.id(name)).count()


def test_a_direct_room_tells_once_while_unread_and_reading_it_clears_it(crowd: People) -> None:
    people = crowd
    follower = Follower(people)
    room = rooms.create_direct(**people.who("asha"), other_user_id=people.id("bala"))
    for n in range(3):
        last = messages.send_text(**people.who("asha"), room_id=room.id, body=f"संदेश {n}")
    follower.run(again=True)
    assert shown(people, "bala") == [("New messages from Asha", False, f"/chat/{room.id}")]
    assert shown(people, "asha") == []  # not the sender
    assert service.unread_count(session=people.session, user_id=people.id("bala")) == 1

    # Another message while unread: still one notification, replaced.
    messages.send_text(**people.who("asha"), room_id=room.id, body="और एक")
    follower.run()
    assert rows(people, "bala") == 1

    # Read up to a message before the end: still unread; up to the end: read.
    messages.mark_read(**people.who("bala"), event_key=last.event_key)
    follower.run()
    assert shown(people, "bala")[0][1] is False
    newest = messages.send_text(**people.who("bala"), room_id=room.id, body="पढ़ लिया")
    messages.mark_read(**people.who("bala"), event_key=newest.event_key)
    follower.run()
    assert shown(people, "bala") == [("New messages from Asha", True, f"/chat/{room.id}")]
    assert shown(people, "asha") == [("New messages from Bala", False, f"/chat/{room.id}")]

    # A new message after it was read: a new notification (the read one stays as it was).
    messages.send_text(**people.who("asha"), room_id=room.id, body="फिर से")
    follower.run()
    assert [read for _, read, _ in shown(people, "bala")] == [False, True]


def test_being_added_or_invited_to_a_group_and_a_room_left(crowd: People) -> None:
    people = crowd
    follower = Follower(people)
    group = rooms.create_group(**people.who("asha"), name="थाना टीम")
    rooms.invite(**people.who("asha"), room_id=group.id, user_id=people.id("bala"))
    follower.run(again=True)
    assert shown(people, "bala") == [("Asha invited you to थाना टीम", False, f"/chat/{group.id}")]
    rooms.join(**people.who("bala"), room_id=group.id)  # joining oneself tells nobody
    rooms.invite(**people.who("bala"), room_id=group.id, user_id=people.id("chand"))
    follower.run()
    assert len(shown(people, "bala")) == 1
    assert shown(people, "chand") == [("Bala invited you to थाना टीम", False, f"/chat/{group.id}")]
    assert shown(people, "asha") == []
    # Out of the room: its notifications are not shown (as if they did not exist).
    rooms.leave(**people.who("bala"), room_id=group.id)
    assert shown(people, "bala") == []


def test_a_batch_of_a_groups_messages_tells_nobody_with_one_statement(crowd: People) -> None:
    """The messages' rooms in one look; no look at the timeline or rooms when none may tell."""
    people = crowd
    group = rooms.create_group(**people.who("asha"), name="थाना टीम")
    rooms.invite(**people.who("asha"), room_id=group.id, user_id=people.id("bala"))
    rooms.join(**people.who("bala"), room_id=group.id)
    follower = Follower(people)
    for n in range(3):
        messages.send_text(**people.who("asha"), room_id=group.id, body=f"संदेश {n}")
    batch = stream_since(people.session, follower.after, FOLLOWED)
    assert len(batch) == 3
    with counting(people.session.get_bind().engine) as tally:
        follow_chat(people.session, batch)
        people.session.flush()
    assert tally.count == 1, tally.describe()
    assert shown(people, "bala") == []  # told nothing


def test_a_broadcast_asks_each_recipient_until_acknowledged(crowd: People) -> None:
    people = crowd
    follower = Follower(people)
    room = broadcasts.create_broadcast(**people.who("sp"), name="परिपत्र 12/2026")
    order = messages.send_text(**people.who("sp"), room_id=room.id, body="रिपोर्ट भेजें")
    follower.run(again=True)
    expected = ("Sp sent a broadcast in परिपत्र 12/2026: please acknowledge it", False)
    for name in ("asha", "bala", "chand"):
        assert [item[:2] for item in shown(people, name)] == [expected], name
        assert rows(people, name) == 1
    assert shown(people, "sp") == [] and shown(people, "dev") == []  # another district
    assert broadcasts.acknowledge(**people.who("asha"), event_key=order.event_key)
    follower.run()
    assert shown(people, "asha")[0][1] is True
    assert shown(people, "bala")[0][1] is False
