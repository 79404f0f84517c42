"""Appending, sequencing, reading and compacting the change stream."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import unit_of_work
from polaris.events import (
    append,
    head_position,
    later_events,
    oldest_position,
    sequence,
    since,
)
from polaris.events import service as events
from polaris.events.models import DomainEvent


def _append(sessions: sessionmaker[Session], kind: str, subject_id: int, **data: int) -> None:
    with unit_of_work(sessions) as session:
        append(session, kind=kind, subject=("node", subject_id), space_id=7, actor_id=3, data=data)


def _sequence(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as session:
        return sequence(session)


def test_an_event_has_no_position_until_sequenced(sessions: sessionmaker[Session]) -> None:
    _append(sessions, "node.created", 1)
    with sessions() as session:
        assert since(session, after=0) == []
        assert head_position(session) == 0
    assert _sequence(sessions) == 1
    with sessions() as session:
        [event] = since(session, after=0)
    assert (event.position, event.kind, event.subject_type, event.subject_id) == (
        1,
        "node.created",
        "node",
        1,
    )
    assert (event.space_id, event.actor_id, dict(event.data)) == (7, 3, {})


def test_positions_follow_append_order_and_never_repeat(sessions: sessionmaker[Session]) -> None:
    for subject in (1, 2, 3):
        _append(sessions, "node.renamed", subject)
    _sequence(sessions)
    _append(sessions, "node.trashed", 4, parent_id=9)
    _sequence(sessions)
    with sessions() as session:
        found = since(session, after=0)
        assert [(e.position, e.subject_id) for e in found] == [(1, 1), (2, 2), (3, 3), (4, 4)]
        assert found[-1].data == {"parent_id": 9}
        assert [e.position for e in since(session, after=2)] == [3, 4]
        assert [e.position for e in since(session, after=0, limit=2)] == [1, 2]
        assert [e.subject_id for e in since(session, after=0, kinds=["node.trashed"])] == [4]
        assert head_position(session) == 4


def test_a_rolled_back_change_leaves_no_event(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        append(session, kind="node.created", subject=("node", 1))
        raise RuntimeError("the change failed")
    assert _sequence(sessions) == 0


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("created", {}),  # no subject part
        ("node." + "x" * 70, {}),  # too long
        ("node.renamed", {"name": "FIR 123.pdf"}),  # content, not an id
        ("node.renamed", {"ids": [1, "2"]}),
        ("node.renamed", {"size": 1.5}),
    ],
)
def test_events_carry_ids_never_content(
    sessions: sessionmaker[Session], kind: str, data: dict[str, object]
) -> None:
    with sessions() as session, pytest.raises(ValueError):
        append(session, kind=kind, subject=("node", 1), data=data)  # type: ignore[arg-type]


def test_since_refuses_an_empty_page(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(ValueError):
        since(session, after=0, limit=0)


def test_compaction_removes_only_old_events_that_were_read(
    sessions: sessionmaker[Session],
) -> None:
    for subject in (1, 2, 3):
        _append(sessions, "node.created", subject)
    _sequence(sessions)
    long_ago = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with unit_of_work(sessions) as session:
        session.execute(
            update(DomainEvent).where(DomainEvent.position <= 2).values(created_at=long_ago)
        )
    with unit_of_work(sessions) as session:
        # Every consumer has read up to 1: event 2 is old but unread, event 3 is new.
        assert events.compact(session, retention=dt.timedelta(days=30), keep_after=1) == 1
    with unit_of_work(sessions) as session:
        assert oldest_position(session) == 2
        assert events.compact(session, retention=dt.timedelta(days=30), keep_after=3) == 1
    _append(sessions, "node.created", 4)
    _sequence(sessions)
    with sessions() as session:
        assert [e.position for e in since(session, after=0)] == [3, 4]  # never reused


def test_later_events_include_those_still_waiting_for_a_position(
    sessions: sessionmaker[Session],
) -> None:
    """A reader judging an old event by today's rows must see every change those rows show,
    also one that committed but was not sequenced yet."""
    _append(sessions, "node.moved", 1)
    _append(sessions, "node.moved", 2)
    _sequence(sessions)
    _append(sessions, "node.classified", 1)
    _sequence(sessions)
    _append(sessions, "node.moved", 1)  # committed, no position yet
    _append(sessions, "node.renamed", 1)  # a kind not asked for
    with unit_of_work(sessions) as session:
        append(session, kind="user.moved", subject=("user", 1), data={"unit_id": 4})

    def found(after: int, ids: list[int] | None) -> list[tuple[int | None, str, int]]:
        with sessions() as session:
            later = later_events(
                session,
                after=after,
                subject_type="node",
                subject_ids=ids,
                kinds=["node.moved", "node.classified"],
            )
        return [(e.position, e.kind, e.subject_id) for e in later]

    assert found(0, [1]) == [
        (1, "node.moved", 1),
        (3, "node.classified", 1),
        (None, "node.moved", 1),
    ]
    assert found(1, [1, 2]) == [
        (2, "node.moved", 2),
        (3, "node.classified", 1),
        (None, "node.moved", 1),
    ]
    assert found(3, None) == [(None, "node.moved", 1)]
    assert found(3, []) == []
    with sessions() as session:
        [waiting] = later_events(
            session, after=3, subject_type="node", subject_ids=[1], kinds=["node.moved"]
        )
    assert waiting.after(10**12) and not found(0, [3])


def test_compaction_leaves_no_hole_behind_a_late_commit(sessions: sessionmaker[Session]) -> None:
    for subject in (1, 2, 3):
        _append(sessions, "node.created", subject)
    _sequence(sessions)
    long_ago = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with unit_of_work(sessions) as session:
        # Position 3 committed late: appended long ago, sequenced after a young event (2).
        session.execute(
            update(DomainEvent).where(DomainEvent.position.in_([1, 3])).values(created_at=long_ago)
        )
    with unit_of_work(sessions) as session:
        assert events.compact(session, retention=dt.timedelta(days=30), keep_after=3) == 1
    with sessions() as session:
        assert [e.position for e in since(session, after=0)] == [2, 3]
