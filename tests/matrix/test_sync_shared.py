"""The hub's shared work (``chat.live``): a wake-up wakes only the waiters whose rooms changed, the
new events are read once for every waiter, a room's new rows once for every member, and a
client resuming from its token still gets every missed message once, in order, whether it reads
the hub's copy or the database. The statements of a woken ``/sync`` are counted."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from polaris import events
from polaris.chat import events as chat_events
from polaris.chat import live, rooms
from polaris.events import service as event_service
from polaris.foreground import Foreground
from polaris.matrix import api_sync, settings_store, sync
from polaris.matrix.rooms import room_matrix_id
from tests.chat.conftest import People
from tests.matrix.test_sync_stream import SERVER, people, say, sequenced, texts
from tests.support.aio import run_coroutine

__all__ = ["people"]  # the fixture, imported


def new_hub() -> live.Hub:
    """A hub whose thread never runs: the tests hand it each pass's read (``absorb``)."""
    return live.Hub(sessionmaker(), redis_url=None, poll_seconds=1.0)


def caller(people: People, name: str, hub: live.Hub) -> sync.Caller:
    who = people.who(name)
    return sync.Caller(who["session"], who["actor"], who["context"], SERVER, hub)


def catch_up(session: Session, hub: live.Hub) -> None:
    """One pass of the hub: sequence, then read what is new (as ``Hub._advance``)."""
    sequenced(session)
    head = event_service.head_position(session)
    batch = event_service.since(session, after=hub.head, kinds=live.KINDS, limit=live.READ_BATCH)
    hub.absorb([e for e in batch if e.position <= head], head)
    session.commit()


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
            statements.append(" ".join(statement.split())[:100])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def group_of(people: People, *members: str) -> int:
    invited = tuple(people.id(m) for m in members)
    group = rooms.create_group(**people.who("asha"), name="गश्त दल", invite_user_ids=invited)
    people.session.commit()
    for member in members:
        rooms.join(**people.who(member), room_id=group.id)
        people.session.commit()
    return group.id


def test_a_woken_sync_reads_the_hub_copy_and_the_rows_once_for_all_members(
    people: People,
) -> None:
    session = people.session
    room_id = group_of(people, "bala", "chand")
    room = room_matrix_id(room_id, SERVER)
    hub = new_hub()
    catch_up(session, hub)
    hub.absorb(None, event_service.head_position(session))  # the copy starts here
    tokens = {}
    for name in ("bala", "chand"):
        tokens[name] = sync.initial(caller(people, name, hub)).token
        session.commit()
    say(people, "asha", room_id, "नाका 7 पर जाँच")
    catch_up(session, hub)
    answers: dict[str, list[str]] = {}
    counts: dict[str, list[str]] = {}
    for name in ("bala", "chand"):
        who = caller(people, name, hub)
        session.commit()
        with counted(session) as statements:
            step = sync.incremental(who, tokens[name])
            session.commit()
        answers[name] = texts(step.body, room)
        counts[name] = statements
    assert answers == {"bala": ["नाका 7 पर जाँच"], "chand": ["नाका 7 पर जाँच"]}
    for statements in counts.values():  # the stream is read from the hub's copy, not SQL
        assert not [s for s in statements if "FROM domain_event" in s]
    # The first member reads the room's new rows; the second is handed the same ones.
    rows = [s for s in counts["bala"] if s.startswith("SELECT chat_event.")]
    assert rows and not [s for s in counts["chand"] if s.startswith("SELECT chat_event.")]
    # Pinned: the head (read here: this test calls ``incremental`` without ``committed``), the
    # memberships with the kept unread counts and the rooms (``require_room``'s facts, through
    # ``access``, from the identity map) (the room's account data did not change: not read);
    # the first member also reads the rows and their senders' names, once for everyone.
    assert len(counts["chand"]) == 2, counts["chand"]
    assert len(counts["bala"]) == 4, counts["bala"]


def test_every_message_once_in_order_from_the_copy_and_the_database(people: People) -> None:
    session = people.session
    room_id = group_of(people, "bala")
    room = room_matrix_id(room_id, SERVER)
    hub = new_hub()
    start = sync.initial(caller(people, "bala", hub)).token
    session.commit()
    say(people, "asha", room_id, "before the hub")  # older than the copy: from the database
    sequenced(session)
    hub.absorb(None, event_service.head_position(session))
    sent = ["before the hub"]
    for n in range(4):
        say(people, "asha", room_id, f"संदेश {n}")
        sent.append(f"संदेश {n}")
        if n % 2:
            catch_up(session, hub)
    say(people, "asha", room_id, "not sequenced yet")  # committed, waits for its position
    seen: list[str] = []
    token = start
    for _ in range(4):
        step = sync.incremental(caller(people, "bala", hub), token)
        session.commit()
        seen += texts(step.body, room)
        token = step.token
        catch_up(session, hub)
    assert seen == [*sent, "not sequenced yet"]
    # A client resuming from a token inside the copy reads the same from it as from the database.
    middle = step.token
    from_copy = sync.incremental(caller(people, "bala", hub), middle)
    session.commit()
    from_db = sync.incremental(caller(people, "bala", new_hub()), middle)
    session.commit()
    assert from_copy.body == from_db.body and from_copy.token == from_db.token


def fake(position: int, kind: str, room_id: int, **data: object) -> events.Event:
    return events.Event(
        position=position,
        kind=kind,
        subject_type="chat_room",
        subject_id=room_id,
        space_id=None,
        actor_id=None,
        created_at=dt.datetime(2026, 12, 6, tzinfo=dt.UTC),
        data={"room_id": room_id, **data},
    )


def test_a_wake_up_wakes_only_the_waiters_it_concerns() -> None:
    async def scenario() -> list[str]:
        hub = new_hub()
        hub.absorb(None, 10)
        woken: list[str] = []

        async def wait(name: str, **how: Any) -> None:
            if await hub.wait_beyond(10, 30.0, **how):
                woken.append(name)

        tasks = [
            asyncio.ensure_future(wait("in 1", rooms={1}, user_id=7)),
            asyncio.ensure_future(wait("in 2", rooms={2}, user_id=8)),
            asyncio.ensure_future(wait("invited", rooms=set(), user_id=9)),
            asyncio.ensure_future(wait("everything")),
        ]
        while hub.waiting < 4:
            await asyncio.sleep(0)
        hub.absorb([fake(11, chat_events.MESSAGE_SENT, 1, seq=5)], 11)
        while len(woken) < 2:
            await asyncio.sleep(0)
        assert sorted(woken) == ["everything", "in 1"] and hub.waiting == 2
        hub.absorb([fake(12, chat_events.MEMBER_CHANGED, 3, user_id=9, seq=1)], 12)
        while len(woken) < 3:
            await asyncio.sleep(0)
        # A waiter that comes with an older position is answered at once only when the copy
        # holds something for it.
        assert await hub.wait_beyond(10, 0.0, rooms={1}) is True
        assert await hub.wait_beyond(11, 0.0, rooms={1}) is False
        hub.set_typing(2, 1, True, 5_000)  # typing wakes only the waiters that follow it
        assert hub.waiting == 1
        typing = asyncio.ensure_future(wait("typing in 2", rooms={2}, serial=hub.serial))
        while hub.waiting < 2:
            await asyncio.sleep(0)
        hub.set_typing(2, 1, False, 0)
        await typing
        for task in tasks:
            task.cancel()
        return woken

    assert run_coroutine(scenario())[2:] == ["invited", "typing in 2"]


def test_a_wake_up_that_wakes_clients_says_their_answers_are_under_way() -> None:
    """The background threads wait for the answers (``polaris.foreground``)."""
    foreground = Foreground(clock=lambda: 0.0)
    hub = live.Hub(sessionmaker(), redis_url=None, poll_seconds=1.0, foreground=foreground)
    hub.absorb(None, 10)

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(hub.wait_beyond(10, 30.0, rooms={1}, user_id=7))
        while hub.waiting < 1:
            await asyncio.sleep(0)
        hub.absorb([fake(11, chat_events.MESSAGE_SENT, 2, seq=1)], 11)  # another room
        untouched = foreground.quiet()
        hub.absorb([fake(12, chat_events.MESSAGE_SENT, 1, seq=1)], 12)
        assert await waiting is True
        return untouched

    assert run_coroutine(scenario()) is True
    assert not foreground.quiet()


def test_a_client_just_answered_waits_without_reading_when_nothing_is_new() -> None:
    hub = new_hub()
    hub.absorb(None, 10)
    assert hub.quiet(7, 10, 10, hub.serial) is None  # no sync of the user seen yet: read
    hub.remember(7, 10, frozenset({1}))
    hub.absorb([fake(11, chat_events.MESSAGE_SENT, 2, seq=1)], 11)
    assert hub.quiet(7, 10, 11, hub.serial) == frozenset({1})  # another room's message
    assert hub.quiet(7, 10, 12, hub.serial) is None  # a head the copy has not reached
    hub.absorb([fake(12, chat_events.MESSAGE_SENT, 1, seq=9)], 12)
    assert hub.quiet(7, 10, 12, hub.serial) is None  # a message in the user's room
    assert hub.quiet(7, 12, 12, hub.serial) == frozenset({1})  # already given
    hub.absorb([fake(13, chat_events.MEMBER_CHANGED, 5, user_id=7, seq=1)], 13)
    assert hub.quiet(7, 13, 13, hub.serial) is None  # invited since: the rooms may differ
    hub.remember(7, 13, frozenset({1, 5}))
    serial = hub.serial
    hub.set_typing(5, 8, True, 5_000)
    assert hub.quiet(7, 13, 13, serial) is None and hub.quiet(7, 13, 13, hub.serial) is not None


def test_a_woken_answer_is_complete_to_the_head_known_when_it_was_queued(
    people: People,
) -> None:
    """``api_sync.woken``: the head an answer is complete up to is taken when its build is
    queued. A pass builds its answers in the snapshot of its first build; the hub may move on
    while it runs, and an answer claiming the hub's newer head would skip, for good, what that
    snapshot does not hold. The message that came meanwhile comes in the next answer."""
    session = people.session
    room_id = group_of(people, "bala")
    room = room_matrix_id(room_id, SERVER)
    hub = new_hub()
    catch_up(session, hub)
    hub.absorb(None, event_service.head_position(session))
    token = sync.initial(caller(people, "bala", hub)).token
    session.commit()
    say(people, "asha", room_id, "पहला")
    catch_up(session, hub)
    queued_at = hub.head
    who = caller(people, "bala", hub)
    build = api_sync.woken(lambda shared: replace(who, session=shared), token, queued_at)
    say(people, "asha", room_id, "दूसरा")  # committed and read by the hub before the pass runs
    catch_up(session, hub)
    assert hub.head > queued_at
    first = build(session)
    session.commit()
    assert texts(first.body, room) == ["पहला"]
    assert first.token.position == queued_at
    second = sync.incremental(caller(people, "bala", hub), first.token)
    session.commit()
    assert texts(second.body, room) == ["दूसरा"]


def test_global_account_data_reaches_the_users_other_syncs_and_only_theirs(
    people: People,
) -> None:
    """A put of global account data (Element's ``m.direct`` on one device) wakes the user's
    long-polls and comes in their next incremental sync, from the hub's copy or the database;
    another user's sync neither wakes nor gets it."""
    session = people.session
    hub = new_hub()
    catch_up(session, hub)
    hub.absorb(None, event_service.head_position(session))
    tokens = {name: sync.initial(caller(people, name, hub)).token for name in ("bala", "chand")}
    session.commit()
    bala = people.id("bala")

    async def woken_by_the_put() -> list[str]:
        woken: list[str] = []

        async def wait(name: str) -> None:
            if await hub.wait_beyond(hub.head, 30.0, rooms=set(), user_id=people.id(name)):
                woken.append(name)

        tasks = [asyncio.ensure_future(wait(name)) for name in ("bala", "chand")]
        while hub.waiting < 2:
            await asyncio.sleep(0)
        settings_store.put_account_data(
            session, user_id=bala, data_type="m.direct", content={"@asha:polaris.test": ["!r"]}
        )
        session.commit()
        catch_up(session, hub)
        await asyncio.wait_for(tasks[0], 30)  # bala's wait ends (a bound, not a measure)
        tasks[1].cancel()
        return woken

    assert run_coroutine(woken_by_the_put()) == ["bala"]
    for source in (hub, new_hub()):  # the hub's copy, then the database
        mine = sync.incremental(caller(people, "bala", source), tokens["bala"])
        theirs = sync.incremental(caller(people, "chand", source), tokens["chand"])
        session.commit()
        assert mine.has_data and not theirs.has_data
        given = {e["type"]: e["content"] for e in mine.body["account_data"]["events"]}
        assert given["m.direct"] == {"@asha:polaris.test": ["!r"]}
        assert theirs.body["account_data"]["events"] == []


def test_a_pass_reads_its_answers_memberships_once_and_each_answer_is_the_same(
    people: People,
) -> None:
    """``sync.prefetch_memberships`` (a batcher pass's answers, ``api_sync.prepare_pass``): the
    member rows and rooms of every woken user in one statement; each answer built after it reads
    none of its own and is the answer it would be alone. A user in no room is kept as such; a
    user not prefetched reads as before."""
    session = people.session
    room_id = group_of(people, "bala", "chand")
    room = room_matrix_id(room_id, SERVER)
    hub = new_hub()
    catch_up(session, hub)
    hub.absorb(None, event_service.head_position(session))
    names = ("bala", "chand", "dev")
    tokens = {name: sync.initial(caller(people, name, hub)).token for name in names}
    session.commit()
    say(people, "asha", room_id, "नाका 7 पर जाँच")
    catch_up(session, hub)
    callers = {name: caller(people, name, hub) for name in names}
    session.commit()
    alone = {name: sync.incremental(callers[name], tokens[name]).body for name in names}
    session.commit()
    api_sync.prepare_pass(session, [api_sync.Answering(people.id(n)) for n in ("bala", "dev")])
    with counted(session) as statements:
        together = {name: sync.incremental(callers[name], tokens[name]).body for name in names}
    session.commit()
    assert together == alone
    assert texts(together["bala"], room) == texts(together["chand"], room) == ["नाका 7 पर जाँच"]
    memberships = [s for s in statements if s.startswith("SELECT chat_member.")]
    assert len(memberships) == 1  # chand's, who was not prefetched; bala's and dev's were


def test_an_answer_read_from_the_database_stops_at_the_head_it_was_queued_with(
    people: People,
) -> None:
    """Without the hub's copy (a client further behind than it holds) the stream is read from
    the database up to the head known committed when the answer was queued, as from the copy:
    on PostgreSQL a later statement of the pass would see later commits, newer than the
    pass's member rows (``sync.prefetch_memberships``). What came after comes next time."""
    session = people.session
    room_id = group_of(people, "bala")
    room = room_matrix_id(room_id, SERVER)
    no_copy = new_hub()  # never absorbs: every read goes to the database
    token = sync.initial(caller(people, "bala", no_copy)).token
    session.commit()
    say(people, "asha", room_id, "पहला")
    sequenced(session)
    queued_at = event_service.head_position(session)
    say(people, "asha", room_id, "दूसरा")
    sequenced(session)
    session.commit()
    first = sync.incremental(caller(people, "bala", no_copy), token, committed=queued_at)
    session.commit()
    assert texts(first.body, room) == ["पहला"]
    assert first.token.position == queued_at
    second = sync.incremental(caller(people, "bala", no_copy), first.token)
    session.commit()
    assert texts(second.body, room) == ["दूसरा"]
