"""The ``chat.hierarchy`` consumer run by the change stream's own runner: committed identity
changes in, channel members out, exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from polaris import events
from polaris.chat import channels, timeline
from polaris.chat.models import ChatEvent
from polaris.db.uow import unit_of_work
from polaris.handlers import load_consumers
from polaris.identity import events as identity_events
from polaris.identity.models import User
from tests.factories import SYSTEM, build_tree, make_user


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions whose commits are savepoints of one transaction, rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    try:
        yield sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
    finally:
        outer.rollback()
        connection.close()


def test_the_runner_moves_a_transferred_officer_between_channels(
    sessions: sessionmaker[Session],
) -> None:
    load_consumers()
    with unit_of_work(sessions) as session:
        units = build_tree(session)
        officer = make_user(session, "ravi", unit="PS-A1").id
    events.drain(sessions)
    with unit_of_work(sessions) as session:
        user = session.get(User, officer)
        assert user is not None
        user.unit_id = units["PS-A2"]
        identity_events.changed(
            session,
            identity_events.USER_MOVED,
            ("user", officer),
            SYSTEM,
            unit_id=units["PS-A2"],
            from_unit_id=units["PS-A1"],
        )
    events.drain(sessions)
    events.drain(sessions)  # nothing is left to hand over, and nothing is done twice
    with sessions() as session:
        a1 = channels.unit_channel(session, units["PS-A1"])
        a2 = channels.unit_channel(session, units["PS-A2"])
        assert a1 is not None and a2 is not None
        assert timeline.joined_user_ids(session, a1.id) == []
        assert timeline.joined_user_ids(session, a2.id) == [officer]
        states = session.scalars(
            select(ChatEvent.state_value)
            .where(ChatEvent.state_key == officer, ChatEvent.state_type == "member")
            .order_by(ChatEvent.id)
        )
        assert list(states) == ["join", "leave", "join"]
