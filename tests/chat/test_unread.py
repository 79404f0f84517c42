"""Unread counts kept up to date (``chat.unread``) equal the definition counted from the rows
after every kind of write: sends, notices, edits, redactions before and after a receipt,
receipts, late joiners, leaving and coming back, retention's purge."""

from __future__ import annotations

from polaris.chat import messages, rooms, unread
from polaris.chat.models import NOTICE
from polaris.chat.retention import purge_texts
from polaris.clock import utcnow
from tests.chat.conftest import People
from tests.chat.test_messages import group_of

NAMES = ("asha", "bala", "chand")


def assert_exact(people: People, room_id: int) -> dict[str, int]:
    """Every member's kept count equals the count from the rows; returns the counts by name."""
    people.session.flush()
    seen = {}
    for name in NAMES:
        kept = unread.counts(people.session, people.id(name))
        assert kept == unread.exact(people.session, people.id(name)), name
        if room_id in kept:
            seen[name] = kept[room_id]
    return seen


def test_kept_counts_follow_every_write(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    sent = [
        messages.send_text(**people.who("asha"), room_id=room_id, body=f"m{n}") for n in range(5)
    ]
    messages.send_text(**people.who("bala"), room_id=room_id, body="reply", kind=NOTICE)
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 5}

    messages.edit(**people.who("asha"), event_key=sent[4].event_key, body="m4 edited")
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 5}  # an edit is not a message

    messages.mark_read(**people.who("bala"), event_key=sent[2].event_key)
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 2}

    messages.redact(**people.who("asha"), event_key=sent[1].event_key)  # read already
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 2}
    messages.redact(**people.who("asha"), event_key=sent[4].event_key)  # unread, with its edit
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 1}

    # chand is invited late: the definition counts from no receipt, the whole history.
    rooms.invite(**people.who("asha"), room_id=room_id, user_id=people.id("chand"))
    rooms.join(**people.who("chand"), room_id=room_id)
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 1, "chand": 4}

    rooms.leave(**people.who("chand"), room_id=room_id)
    messages.send_text(**people.who("asha"), room_id=room_id, body="while chand is away")
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 2}
    rooms.invite(**people.who("asha"), room_id=room_id, user_id=people.id("chand"))
    rooms.join(**people.who("chand"), room_id=room_id)
    assert assert_exact(people, room_id) == {"asha": 1, "bala": 2, "chand": 5}

    last = messages.send_text(**people.who("chand"), room_id=room_id, body="back")
    messages.mark_read(**people.who("asha"), event_key=last.event_key)
    messages.mark_read(**people.who("asha"), event_key=sent[0].event_key)  # never goes back
    assert assert_exact(people, room_id) == {"asha": 0, "bala": 3, "chand": 5}


def test_retention_purge_counts_again(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    sent = [
        messages.send_text(**people.who("asha"), room_id=room_id, body=f"m{n}") for n in range(3)
    ]
    assert assert_exact(people, room_id)["bala"] == 3
    purge_texts(people.session, people.ctx("asha"), room_id, [sent[0].id, sent[2].id], utcnow())
    assert assert_exact(people, room_id)["bala"] == 1
