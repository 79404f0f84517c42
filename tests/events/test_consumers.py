"""Consumers: durable cursors, batches in the cursor's transaction, failures kept for operators."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from polaris.db.uow import unit_of_work
from polaris.events import Consumer, Event, append, consumers, drain, head_position
from polaris.events import repo as events_repo


@pytest.fixture
def registry() -> Iterator[dict[str, Consumer]]:
    """The consumer registry, emptied for the test and restored after it."""
    saved = dict(consumers._CONSUMERS)
    consumers._CONSUMERS.clear()
    try:
        yield consumers._CONSUMERS
    finally:
        consumers._CONSUMERS.clear()
        consumers._CONSUMERS.update(saved)


def _append(sessions: sessionmaker[Session], *kinds: str) -> None:
    with unit_of_work(sessions) as session:
        for number, kind in enumerate(kinds, start=1):
            append(session, kind=kind, subject=("node", number))


def _cursor(sessions: sessionmaker[Session], name: str) -> tuple[int, str | None]:
    with sessions() as session:
        [found] = [c for c in events_repo.cursors(session) if c.consumer == name]
        return found.position, found.error


def test_a_consumer_sees_each_event_of_its_kinds_once(
    sessions: sessionmaker[Session], registry: dict[str, Consumer]
) -> None:
    seen: list[tuple[int, str]] = []

    @consumers.consumer("test.index", kinds=["node.created", "node.trashed"], batch=2)
    def index(session: Session, events: Sequence[Event]) -> None:
        seen.extend((e.position, e.kind) for e in events)

    _append(sessions, "node.created", "node.renamed", "node.renamed", "node.trashed")
    assert drain(sessions) > 0
    assert seen == [(1, "node.created"), (4, "node.trashed")]
    assert _cursor(sessions, "test.index") == (4, None)  # it read past what it ignores
    assert drain(sessions) == 0
    _append(sessions, "node.created")
    drain(sessions)
    assert seen[-1] == (5, "node.created")


def test_a_failing_batch_is_retried_and_its_error_kept(
    sessions: sessionmaker[Session], registry: dict[str, Consumer]
) -> None:
    attempts: list[list[int]] = []

    @consumers.consumer("test.flaky", kinds=["node.created"])
    def flaky(session: Session, events: Sequence[Event]) -> None:
        attempts.append([e.position for e in events])
        # Its own write in the cursor's transaction: rolled back with the failed batch.
        append(session, kind="node.indexed", subject=("node", 99))
        if len(attempts) == 1:
            raise RuntimeError("index unavailable")

    _append(sessions, "node.created", "node.created")
    with pytest.raises(RuntimeError):
        drain(sessions)
    position, error = _cursor(sessions, "test.flaky")
    assert position == 0
    assert error == "RuntimeError: index unavailable"
    drain(sessions)
    assert attempts[:2] == [[1, 2], [1, 2]]
    assert len(attempts) == 2
    assert _cursor(sessions, "test.flaky") == (3, None)  # past its own event; error cleared
    with sessions() as session:
        assert head_position(session) == 3


def test_a_failing_consumer_does_not_hold_up_the_others(
    sessions: sessionmaker[Session], registry: dict[str, Consumer]
) -> None:
    seen: list[int] = []

    @consumers.consumer("test.broken")
    def broken(session: Session, events: Sequence[Event]) -> None:
        raise RuntimeError("always")

    @consumers.consumer("test.working")
    def working(session: Session, events: Sequence[Event]) -> None:
        seen.extend(e.position for e in events)

    _append(sessions, "node.created")
    drain(sessions, raise_errors=False)
    assert seen == [1]
    assert _cursor(sessions, "test.broken")[0] == 0


def test_a_consumer_that_starts_now_skips_the_past(
    sessions: sessionmaker[Session], registry: dict[str, Consumer]
) -> None:
    _append(sessions, "node.created", "node.created")
    drain(sessions)
    seen: list[int] = []

    @consumers.consumer("test.notifier", start="now")
    def notifier(session: Session, events: Sequence[Event]) -> None:
        seen.extend(e.position for e in events)

    drain(sessions)
    _append(sessions, "node.renamed")
    drain(sessions)
    assert seen == [3]


def test_a_name_is_registered_once(registry: dict[str, Consumer]) -> None:
    consumers.consumer("test.one")(lambda session, events: None)
    with pytest.raises(ValueError, match="already registered"):
        consumers.consumer("test.one")(lambda session, events: None)


def test_the_consumers_with_nothing_to_handle_move_in_one_transaction(
    sessions: sessionmaker[Session], registry: dict[str, Consumer]
) -> None:
    """An event most consumers do not take (a chat message) moves their cursors together: the
    transactions of a pass do not grow with the number of consumers it leaves alone."""
    seen: list[int] = []

    @consumers.consumer("test.chat", kinds=["chat.message_sent"])
    def chat(session: Session, events: Sequence[Event]) -> None:
        seen.extend(e.position for e in events)

    for number in range(6):
        consumers.consumer(f"test.idle{number}", kinds=[f"node.kind{number}"])(chat)
    _append(sessions, "node.created")
    drain(sessions)  # every cursor exists, at the head
    engine = sessions.kw["bind"].engine
    transactions: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("SAVEPOINT"):
            transactions.append(statement)

    for _ in range(2):
        _append(sessions, "chat.message_sent")
        transactions.clear()
        sa_event.listen(engine, "before_cursor_execute", count)
        try:
            consumers.run_pass(sessions)
        finally:
            sa_event.remove(engine, "before_cursor_execute", count)
        head = _head(sessions)
        assert [_cursor(sessions, f"test.idle{n}")[0] for n in range(6)] == [head] * 6
        assert _cursor(sessions, "test.chat") == (head, None)
    assert seen == [2, 3]  # each message handed over once
    # Sequencing (a glance, then the positions), the pass's glance, and one transaction for the
    # idle cursors and the chat consumer's batch together: 4, whether 6 consumers are idle or
    # 60 (it was a batch and an empty look per consumer: 18; then 5, the batch apart).
    assert len(transactions) == 4, transactions


@pytest.mark.parametrize("shared_range", [0, consumers.SHARED_RANGE])
def test_an_idle_looking_consumer_with_events_of_its_kinds_runs_them(
    sessions: sessionmaker[Session],
    registry: dict[str, Consumer],
    monkeypatch: pytest.MonkeyPatch,
    shared_range: int,
) -> None:
    """The range since the lowest cursor is read once and each consumer given its kinds of it
    or, past ``SHARED_RANGE``, each reads its own: either way a consumer with an event of its
    kinds after its own cursor is handed it, and one without is moved to the head."""
    monkeypatch.setattr(consumers, "SHARED_RANGE", shared_range)
    seen: dict[str, list[int]] = {"a": [], "b": []}

    @consumers.consumer("test.a", kinds=["node.a"])
    def take_a(session: Session, events: Sequence[Event]) -> None:
        seen["a"].extend(e.position for e in events)

    @consumers.consumer("test.b", kinds=["node.b"])
    def take_b(session: Session, events: Sequence[Event]) -> None:
        seen["b"].extend(e.position for e in events)

    _append(sessions, "node.created")
    drain(sessions)
    _append(sessions, "node.a")
    _append(sessions, "node.created")
    consumers.run_pass(sessions)
    head = _head(sessions)
    assert seen == {"a": [2], "b": []}
    assert _cursor(sessions, "test.a")[0] == head
    assert _cursor(sessions, "test.b")[0] == head


def _head(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return head_position(session)


def test_the_consumers_behind_run_in_one_transaction(
    sessions: sessionmaker[Session], registry: dict[str, Consumer]
) -> None:
    """Several consumers with events to handle share the pass's one write transaction, each
    handed its events once."""
    seen: dict[str, list[int]] = {}
    for name in ("test.one", "test.two", "test.three"):

        def handle(session: Session, events: Sequence[Event], name: str = name) -> None:
            seen.setdefault(name, []).extend(e.position for e in events)

        consumers.consumer(name, kinds=["node.created"])(handle)
    _append(sessions, "node.created")
    drain(sessions)  # every cursor exists
    engine = sessions.kw["bind"].engine
    transactions: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("SAVEPOINT"):
            transactions.append(statement)

    _append(sessions, "node.created", "node.created")
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        consumers.run_pass(sessions)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert seen == {name: [1, 2, 3] for name in ("test.one", "test.two", "test.three")}
    assert len(transactions) == 4, transactions  # as above: 3 of them glances and sequencing
    head = _head(sessions)
    assert {_cursor(sessions, n) for n in ("test.one", "test.two", "test.three")} == {(head, None)}


@pytest.mark.parametrize("how", ["raises", "rolls back its session"])
def test_a_failing_consumer_in_the_shared_pass_costs_the_others_nothing(
    sessions: sessionmaker[Session], registry: dict[str, Consumer], how: str
) -> None:
    """A handler that raises, or that rolls back the whole session (as ``audit.service.append``
    does when the database refuses a record), undoes the shared transaction: every consumer then
    runs alone, the others' events are handed over (and their writes kept) exactly once more,
    nothing is reported done that was not committed, and the failing one records its error and
    runs alone from then on."""
    seen: list[int] = []
    broken_calls: list[int] = []

    @consumers.consumer("test.b_broken", kinds=["node.created"])
    def broken(session: Session, events: Sequence[Event]) -> None:
        broken_calls.append(len(events))
        if how == "raises":
            raise RuntimeError("index unavailable")
        session.rollback()

    @consumers.consumer("test.a_working", kinds=["node.created"])
    def working(session: Session, events: Sequence[Event]) -> None:
        seen.extend(e.position for e in events)
        append(session, kind="node.indexed", subject=("node", 99))

    _append(sessions, "node.created")
    drain(sessions, raise_errors=False)
    assert seen == [1]
    position, error = _cursor(sessions, "test.b_broken")
    if how == "raises":
        assert (position, error) == (0, "RuntimeError: index unavailable")
    else:
        # Rolled back its own session and returned: alone, its batch's transaction is gone,
        # so its cursor never moves and the failure is recorded.
        assert position == 0 and error is not None
    with sessions() as session:
        indexed = [
            e
            for e in events_repo.events_after(session, after=0, limit=100)
            if e.kind == "node.indexed"
        ]
    assert len(indexed) == 1  # the working consumer's write, once
    calls = len(broken_calls)
    _append(sessions, "node.created")
    consumers.run_pass(sessions)
    assert seen == [1, 3]
    assert len(broken_calls) == calls + 1  # alone now: no shared attempt before it
