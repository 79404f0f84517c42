"""Rooms, membership and messages: Unicode in, bad input refused, a room one is not in looks
missing, transaction ids, edits, redaction window, receipts, unread counts, history pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.access.policy import ChatAction
from polaris.chat import events as chat_events
from polaris.chat import messages, rooms
from polaris.chat.models import ChatEvent, ChatMember, ChatRoom
from polaris.chat.texts import ChatLimits
from polaris.db.uow import transaction
from polaris.errors import Conflict, NotFound, PermissionDenied, PolarisError, ValidationFailed
from tests.chat.conftest import People, audit_actions, denials, stream_since

HINDI_NAME = "थाना समन्वय समूह"
HINDI_TEXT = "नमस्ते, आज की रिपोर्ट भेजें 🙏"


def group_of(people: People, owner: str, *members: str, name: str = HINDI_NAME) -> int:
    room = rooms.create_group(**people.who(owner), name=name)
    for member in members:
        rooms.invite(**people.who(owner), room_id=room.id, user_id=people.id(member))
        rooms.join(**people.who(member), room_id=room.id)
    return room.id


def test_a_direct_room_is_one_per_pair_whoever_starts_it(people: People) -> None:
    first = rooms.create_direct(**people.who("asha"), other_user_id=people.id("bala"))
    again = rooms.create_direct(**people.who("bala"), other_user_id=people.id("asha"))
    assert first.id == again.id
    joined = people.session.scalars(
        select(ChatMember.user_id).where(
            ChatMember.room_id == first.id, ChatMember.membership == "join"
        )
    )
    assert sorted(joined) == sorted([people.id("asha"), people.id("bala")])
    with pytest.raises(ValidationFailed) as refused:
        rooms.create_direct(**people.who("asha"), other_user_id=people.id("asha"))
    assert refused.value.code == "chat_direct_self"


def test_a_group_with_a_hindi_name_invites_and_joins(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    [view] = [v for v in rooms.my_rooms(session=people.session, actor=people.actor("bala"))]
    assert (view.room.id, view.room.name, view.membership) == (room_id, HINDI_NAME, "join")
    page = messages.history(**people.who("bala"), room_id=room_id)
    states = [(e.state_type, e.state_value or e.body) for e in page.events]
    assert states == [
        ("create", "group"),
        ("name", HINDI_NAME),
        ("member", "join"),
        ("member", "invite"),
        ("member", "join"),
    ]
    rooms.leave(**people.who("bala"), room_id=room_id)
    with pytest.raises(NotFound):
        messages.history(**people.who("bala"), room_id=room_id)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "chat_name_empty"),
        ("   ", "chat_name_empty"),
        ("a\x00b", "chat_name_invalid"),
        ("invoice\u202egpj.exe", "chat_name_invalid"),
        ("\u2066hidden\u2069", "chat_name_invalid"),
        ("line\nbreak", "chat_name_invalid"),
        ("x" * 256, "chat_name_too_long"),
    ],
)
def test_bad_room_names_are_refused_with_their_code(people: People, name: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rooms.create_group(**people.who("asha"), name=name)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "chat_body_empty"),
        (" \n\t ", "chat_body_empty"),
        ("before\x00after", "chat_body_invalid"),
        ("क" * 101, "chat_body_too_long"),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_sent(people: People, body: str, code: str) -> None:
    room_id = group_of(people, "asha")
    before = people.session.scalar(select(func.count(ChatEvent.id)))
    with pytest.raises(ValidationFailed) as refused:
        messages.send_text(
            **people.who("asha"), room_id=room_id, body=body, limits=ChatLimits(body_max_chars=100)
        )
    assert refused.value.code == code
    assert people.session.scalar(select(func.count(ChatEvent.id))) == before


@pytest.mark.parametrize(
    "body", [HINDI_TEXT, "Report by 17:00 IST", "मिश्रित mixed text ‏עברית‎", "क" * 100]
)
def test_any_unicode_text_is_sent_as_written(people: People, body: str) -> None:
    room_id = group_of(people, "asha", "bala")
    sent = messages.send_text(
        **people.who("asha"), room_id=room_id, body=body, limits=ChatLimits(body_max_chars=100)
    )
    page = messages.history(**people.who("bala"), room_id=room_id, limit=1)
    assert [(e.event_key, e.body) for e in page.events] == [(sent.event_key, body)]


def _refusal(people: People, call: Any) -> tuple[type[PolarisError], str, str, int]:
    before = len(denials(people.session))
    people.session.commit()
    with pytest.raises(PolarisError) as refused, transaction(people.session):
        call()
    assert len(denials(people.session)) == before + 1  # audited, after the rollback
    return type(refused.value), refused.value.code, refused.value.detail, refused.value.status


@pytest.mark.parametrize("what", ["history", "send", "invite", "join", "leave", "members"])
def test_a_room_one_is_not_in_answers_like_a_missing_room(people: People, what: str) -> None:
    room_id = group_of(people, "asha", "bala")
    missing = room_id + 1000
    calls: dict[str, Callable[[int], object]] = {
        "history": lambda r: messages.history(**people.who("dev"), room_id=r),
        "send": lambda r: messages.send_text(**people.who("dev"), room_id=r, body="hi"),
        "invite": lambda r: rooms.invite(**people.who("dev"), room_id=r, user_id=people.id("dev")),
        "join": lambda r: rooms.join(**people.who("dev"), room_id=r),
        "leave": lambda r: rooms.leave(**people.who("dev"), room_id=r),
        "members": lambda r: rooms.members(**people.who("dev"), room_id=r),
    }
    hidden = _refusal(people, lambda: calls[what](room_id))
    absent = _refusal(people, lambda: calls[what](missing))
    assert hidden == absent
    assert hidden[:2] == (NotFound, "not_found")


def test_an_event_in_a_room_one_is_not_in_answers_like_a_missing_event(people: People) -> None:
    room_id = group_of(people, "asha")
    sent = messages.send_text(**people.who("asha"), room_id=room_id, body="secret plan")
    for call in (messages.mark_read, messages.redact):
        hidden = _refusal(people, lambda c=call: c(**people.who("dev"), event_key=sent.event_key))
        absent = _refusal(people, lambda c=call: c(**people.who("dev"), event_key="no-such-event"))
        assert hidden == absent


def test_a_member_refused_moderation_is_told_so(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    with pytest.raises(PermissionDenied):
        rooms.kick(**people.who("bala"), room_id=room_id, user_id=people.id("asha"))
    rooms.kick(**people.who("asha"), room_id=room_id, user_id=people.id("bala"))
    with pytest.raises(NotFound):
        messages.send_text(**people.who("bala"), room_id=room_id, body="still here?")


def test_a_repeated_transaction_id_gives_back_the_first_send(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    other_id = group_of(people, "asha", name="second")

    def send(who: str, body: str) -> ChatEvent:
        return messages.send_text(
            **people.who(who), room_id=room_id, body=body, device_id="PHONE", txn_id="m1"
        )

    first = send("asha", "once")
    again = send("asha", "twice?")
    assert again.id == first.id
    assert again.body == "once"
    other_device = messages.send_text(
        **people.who("asha"), room_id=room_id, body="other", device_id="LAPTOP", txn_id="m1"
    )
    assert other_device.id != first.id
    same_txn_bala = send("bala", "mine")
    assert same_txn_bala.id != first.id
    with pytest.raises(Conflict) as reused:
        messages.send_text(
            **people.who("asha"), room_id=other_id, body="x", device_id="PHONE", txn_id="m1"
        )
    assert reused.value.code == "chat_txn_reused"
    texts = [e.body for e in messages.history(**people.who("asha"), room_id=room_id).events]
    assert texts.count("once") == 1 and "twice?" not in texts
    with pytest.raises(ValidationFailed):
        messages.send_text(**people.who("asha"), room_id=room_id, body="x", txn_id="")


def test_reply_and_edit_keep_the_original(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    question = messages.send_text(**people.who("asha"), room_id=room_id, body="कब?")
    answer = messages.send_text(
        **people.who("bala"), room_id=room_id, body="5 बजे", reply_to=question.event_key
    )
    assert answer.reply_to_id == question.id
    edited = messages.edit(**people.who("bala"), event_key=answer.event_key, body="6 बजे")
    assert (edited.edits_id, edited.body) == (answer.id, "6 बजे")
    assert people.session.get(ChatEvent, answer.id).body == "5 बजे"  # type: ignore[union-attr]
    with pytest.raises(PermissionDenied) as refused:
        messages.edit(**people.who("asha"), event_key=answer.event_key, body="no")
    assert refused.value.code == "chat_not_sender"
    with pytest.raises(ValidationFailed):
        messages.edit(**people.who("bala"), event_key=edited.event_key, body="edit of edit")
    with pytest.raises(ValidationFailed) as elsewhere:
        other = group_of(people, "asha", name="other")
        messages.send_text(
            **people.who("asha"), room_id=other, body="x", reply_to=question.event_key
        )
    assert elsewhere.value.code == "chat_reply_not_found"


WINDOW = 600


@pytest.mark.parametrize(
    ("sender", "deleter", "age", "outcome"),
    [
        ("bala", "bala", WINDOW - 60, "ok"),
        ("bala", "bala", WINDOW + 60, "chat_redact_window_passed"),
        ("bala", "asha", WINDOW + 3600, "ok"),  # asha owns the group: a moderator's power
        ("asha", "bala", 10, "permission_denied"),  # another's message, no moderator
        ("asha", "asha", WINDOW * 100, "ok"),  # an owner deletes her own old message
    ],
)
def test_redaction_window(
    people: People, sender: str, deleter: str, age: int, outcome: str
) -> None:
    room_id = group_of(people, "asha", "bala")
    sent = messages.send_text(**people.who(sender), room_id=room_id, body="to delete")
    stored = people.session.get(ChatEvent, sent.id)  # the send's event is not in the session
    assert stored is not None
    stored.created_at = sent.created_at - dt.timedelta(seconds=age)
    people.session.flush()
    limits = ChatLimits(redact_window_seconds=WINDOW)
    if outcome != "ok":
        with pytest.raises(PermissionDenied) as refused:
            messages.redact(**people.who(deleter), event_key=sent.event_key, limits=limits)
        assert refused.value.code == outcome
        return
    redaction = messages.redact(**people.who(deleter), event_key=sent.event_key, limits=limits)
    page = messages.history(**people.who("bala"), room_id=room_id, limit=2).events
    assert [(e.id, e.body, e.redacted) for e in page] == [
        (sent.id, None, True),
        (redaction.id, None, False),
    ]
    assert people.session.get(ChatEvent, sent.id).body == "to delete"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        messages.mark_read(**people.who("bala"), event_key=sent.event_key)


def test_receipts_and_unread_counts(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    quiet = group_of(people, "bala", name="quiet")
    sent = [
        messages.send_text(**people.who("asha"), room_id=room_id, body=f"m{n}") for n in range(4)
    ]
    messages.send_text(**people.who("bala"), room_id=room_id, body="own messages never count")
    assert messages.unread_counts(session=people.session, actor=people.actor("bala")) == {
        room_id: 4,
        quiet: 0,
    }
    messages.mark_read(**people.who("bala"), event_key=sent[1].event_key)
    messages.mark_read(**people.who("bala"), event_key=sent[0].event_key)  # never goes back
    messages.redact(**people.who("asha"), event_key=sent[3].event_key)
    assert messages.unread_counts(session=people.session, actor=people.actor("bala"))[room_id] == 1


def test_history_pages_back_and_forward(people: People) -> None:
    room_id = group_of(people, "asha")  # seq 1, 2, 3: create, name and join
    for n in range(7):
        messages.send_text(**people.who("asha"), room_id=room_id, body=f"m{n}")
    latest = messages.history(**people.who("asha"), room_id=room_id, limit=3)
    assert ([e.body for e in latest.events], latest.more) == (["m4", "m5", "m6"], True)
    older = messages.history(
        **people.who("asha"), room_id=room_id, before=latest.events[0].seq, limit=3
    )
    assert [e.body for e in older.events] == ["m1", "m2", "m3"]
    newer = messages.history(
        **people.who("asha"), room_id=room_id, after=older.events[-1].seq, limit=5
    )
    assert ([e.body for e in newer.events], newer.more) == (["m4", "m5", "m6"], False)
    seqs = [e.seq for e in messages.history(**people.who("asha"), room_id=room_id, limit=20).events]
    assert seqs == list(range(1, 11))
    for bad in ({"limit": 0}, {"limit": 201}, {"before": 3, "after": 1}):
        with pytest.raises(ValidationFailed):
            messages.history(**people.who("asha"), room_id=room_id, **bad)  # type: ignore[arg-type]


def test_changes_are_audited_and_appended_with_ids_only(
    people: People, db_session: Session
) -> None:
    start = stream_since(db_session, 0, ["chat.room.created"])
    after = start[-1].position if start else 0
    room_id = group_of(people, "asha", "bala")
    sent = messages.send_text(**people.who("asha"), room_id=room_id, body=HINDI_TEXT)
    messages.edit(**people.who("asha"), event_key=sent.event_key, body="edited")
    messages.redact(**people.who("asha"), event_key=sent.event_key)
    rooms.leave(**people.who("bala"), room_id=room_id)
    assert audit_actions(db_session) == [
        "chat.room.create",
        "chat.member.join",
        "chat.member.invite",
        "chat.member.join",
        "chat.message.send",
        "chat.message.edit",
        "chat.message.redact",
        "chat.member.leave",
    ]
    kinds = [
        chat_events.ROOM_CREATED,
        chat_events.MEMBER_CHANGED,
        chat_events.MESSAGE_SENT,
        chat_events.MESSAGE_EDITED,
        chat_events.MESSAGE_REDACTED,
    ]
    found = stream_since(db_session, after, kinds)
    assert [e.kind for e in found] == [
        chat_events.ROOM_CREATED,
        chat_events.MEMBER_CHANGED,
        chat_events.MEMBER_CHANGED,
        chat_events.MEMBER_CHANGED,
        chat_events.MESSAGE_SENT,
        chat_events.MESSAGE_EDITED,
        chat_events.MESSAGE_REDACTED,
        chat_events.MEMBER_CHANGED,
    ]
    assert all(e.data["room_id"] == room_id for e in found)
    for event in found:
        assert all(isinstance(v, int | type(None)) for v in event.data.values()), event


def test_a_send_that_races_its_repeat_returns_the_winner(people: People) -> None:
    """The unique key decides a race the lookup could not see: ``record_message`` is what runs
    after the lookup found nothing; here the first send has landed meanwhile."""
    room_id = group_of(people, "asha")
    first = messages.send_text(
        **people.who("asha"), room_id=room_id, body="first", device_id="D", txn_id="race"
    )
    room = rooms.require_room(**people.who("asha"), room_id=room_id, action=ChatAction.SEND)
    late = messages.record_message(
        people.session,
        people.actor("asha"),
        people.ctx("asha"),
        room,
        kind="text",
        body="second",
        device_id="D",
        txn_id="race",
    )
    assert late.id == first.id
    bodies = [e.body for e in messages.history(**people.who("asha"), room_id=room_id).events]
    assert bodies.count("first") == 1 and "second" not in bodies
    # The repeat gave its ``seq`` back: the next message follows the first without a gap.
    people.session.commit()
    stored = people.session.scalar(select(ChatRoom.last_seq).where(ChatRoom.id == room_id))
    assert stored == first.seq
    after = messages.send_text(**people.who("asha"), room_id=room_id, body="next")
    assert after.seq == first.seq + 1


def test_renaming_is_a_state_event_for_moderators_only(people: People) -> None:
    room_id = group_of(people, "asha", "bala")
    with pytest.raises(PermissionDenied):
        rooms.rename(**people.who("bala"), room_id=room_id, name="मेरा कमरा")
    rooms.set_role(
        **people.who("asha"), room_id=room_id, user_id=people.id("bala"), role="moderator"
    )
    room = rooms.rename(**people.who("bala"), room_id=room_id, name="नया नाम", topic="विषय")
    assert (room.name, room.topic) == ("नया नाम", "विषय")
    rooms.rename(**people.who("asha"), room_id=room_id, topic="")
    page = messages.history(**people.who("asha"), room_id=room_id, limit=3).events
    assert [(e.state_type, e.body) for e in page] == [
        ("name", "नया नाम"),
        ("topic", "विषय"),
        ("topic", None),
    ]
    with pytest.raises(ValidationFailed):
        rooms.rename(**people.who("asha"), room_id=room_id, name="\u202eevil")


def test_a_sent_event_is_not_in_the_session_and_a_rolled_back_send_leaves_no_trace(
    people: People,
) -> None:
    """The send's row goes in by a Core insert (``timeline.append_event_unless_repeat``); the
    event handed back is not in the session, so a savepoint rolled back around the send (a group
    commit's careful rerun) leaves nothing behind that clashes with the next send's row, whose
    id SQLite may give again."""
    room_id = group_of(people, "asha")
    session = people.session
    with pytest.raises(RuntimeError), session.begin_nested():
        lost = messages.send_text(**people.who("asha"), room_id=room_id, body="lost")
        assert lost not in session
        raise RuntimeError("the unit after the send failed")
    kept = messages.send_text(**people.who("asha"), room_id=room_id, body="kept")
    assert kept.seq == lost.seq  # the rolled-back send's seq went with it
    bodies = [e.body for e in messages.history(**people.who("asha"), room_id=room_id).events]
    assert "kept" in bodies and "lost" not in bodies
