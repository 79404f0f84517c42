"""What one send asks of the database, pinned: the statements of ``messages.send_text`` with a
transaction id (Matrix's ``PUT .../send/{type}/{txnId}`` and the messenger's POST both end in it),
with the access check, idempotency, the audit record and the change event kept."""

from __future__ import annotations

from polaris.chat import messages, unread
from tests.chat.conftest import People
from tests.chat.test_messages import group_of
from tests.matrix.test_sync_shared import counted


def test_a_send_costs_a_pinned_number_of_statements(people: People) -> None:
    room_id = group_of(people, "asha", "bala", "chand")
    who = people.who("asha")
    messages.send_text(**who, room_id=room_id, body="warm", device_id="D1", txn_id="t0")
    people.session.commit()
    with counted(people.session) as statements:
        messages.send_text(**who, room_id=room_id, body="नमस्ते", device_id="D1", txn_id="t1")
    # room, membership (the access check), the room's lock and next seq, the event, the
    # members' unread counts, the audit record, the change event. The transaction id's repeat
    # is caught by the unique key at the insert: no lookup before it.
    assert len(statements) == 7, "\n".join(statements)
    assert not [s for s in statements if s.startswith("SELECT chat_event")]


def test_a_repeat_writes_nothing_and_answers_the_first_event(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    who = people.who("asha")
    first = messages.send_text(**who, room_id=room_id, body="once", device_id="D1", txn_id="t")
    people.session.commit()
    with counted(people.session) as statements:
        again = messages.send_text(**who, room_id=room_id, body="", device_id="D1", txn_id="t")
    assert again.id == first.id
    assert not [s for s in statements if s.startswith("INSERT")]
    again = messages.send_text(**who, room_id=room_id, body="other", device_id="D1", txn_id="t")
    assert again.id == first.id
    assert people.session.get(type(first), first.id) is not None
    assert unread.counts(people.session, people.id("bala"))[room_id] == 1
