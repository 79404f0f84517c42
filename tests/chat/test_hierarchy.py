"""Unit channels and broadcasts: members follow postings and transfers through the change
stream; broadcasts are acknowledged per recipient and tabled by unit."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from polaris.chat import broadcasts, channels, messages, rooms, timeline
from polaris.chat import events as chat_events
from polaris.errors import NotFound, PermissionDenied, ValidationFailed
from polaris.identity import units, user_changes, users
from polaris.identity.models import User
from polaris.identity.units import UnitKind, UnitSpec
from tests.chat.conftest import People, stream_since
from tests.factories import SYSTEM

IDENTITY_KINDS = [*channels.USER_KINDS, *channels.UNIT_KINDS]


class Follower:
    """Runs the ``chat.hierarchy`` consumer's handler over what the stream holds since last time
    (the runner's own loop is tested in tests/events; here the handler's effects are)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.position = 0

    def catch_up(self) -> int:
        batch = stream_since(self.session, self.position, IDENTITY_KINDS)
        if batch:
            channels.follow_hierarchy(self.session, batch)
            self.position = batch[-1].position
        return len(batch)


def joined(people: People, room_id: int) -> list[str]:
    names = {user.id: name for name, user in people.users.items()}
    return sorted(names[i] for i in timeline.joined_user_ids(people.session, room_id))


def transfer(people: People, name: str, unit: str) -> None:
    """A transfer as the administration page makes it (``identity.user_changes.move_user``), which
    appends ``user.moved`` in its transaction (docs/events.md)."""
    user = people.session.get(User, people.id(name))
    target = units.get_by_id(session=people.session, unit_id=people.units[unit])
    assert user is not None and target is not None
    user_changes.move_user(
        session=people.session,
        username=user.username,
        unit_code=target.code,
        context=people.ctx("sp"),
    )
    people.session.flush()


def test_unit_channels_follow_postings_and_transfers(people: People) -> None:
    follower = Follower(people.session)
    follower.catch_up()
    a1 = channels.unit_channel(people.session, people.units["PS-A1"])
    b1 = channels.unit_channel(people.session, people.units["PS-B1"])
    assert a1 is not None and b1 is not None
    assert (a1.name, joined(people, a1.id), joined(people, b1.id)) == (
        "Unit PS-A1",
        ["asha", "bala"],
        ["dev"],
    )
    broadcast = broadcasts.create_broadcast(**people.who("sp"), name="जिला आदेश")
    assert joined(people, broadcast.id) == ["asha", "bala", "chand", "sp"]

    transfer(people, "bala", "PS-B1")
    follower.catch_up()
    assert joined(people, a1.id) == ["asha"]
    assert joined(people, b1.id) == ["bala", "dev"]
    assert joined(people, broadcast.id) == ["asha", "chand", "sp"]
    with pytest.raises(NotFound):
        messages.history(**people.who("bala"), room_id=a1.id)
    # Running again over the same events changes nothing (a batch may be handed over twice).
    assert channels.sync_room(people.session, a1) == 0
    assert channels.sync_room(people.session, broadcast) == 0
    with pytest.raises(ValidationFailed) as refused:
        rooms.leave(**people.who("asha"), room_id=a1.id)
    assert refused.value.code == "chat_room_follows_units"


def test_broadcast_acknowledgements_by_unit_and_reminders(people: People) -> None:
    room = broadcasts.create_broadcast(**people.who("sp"), name="Circular 12/2026")
    order = messages.send_text(**people.who("sp"), room_id=room.id, body="सभी थाने रिपोर्ट भेजें")
    assert broadcasts.acknowledge(**people.who("asha"), event_key=order.event_key)
    assert not broadcasts.acknowledge(**people.who("asha"), event_key=order.event_key)
    table = broadcasts.acknowledgements(**people.who("sp"), event_key=order.event_key)
    units = {people.units[code]: code for code in ("PS-A1", "PS-A2")}
    ids = {user.id: name for name, user in people.users.items()}
    assert [
        (units[row.unit_id], [ids[i] for i in row.acknowledged], [ids[i] for i in row.pending])
        for row in table
    ] == [("PS-A1", ["asha"], ["bala"]), ("PS-A2", [], ["chand"])]
    start = stream_since(people.session, 0, [chat_events.BROADCAST_REMINDED])
    reminded = broadcasts.remind(**people.who("sp"), event_key=order.event_key)
    assert sorted(ids[i] for i in reminded) == ["bala", "chand"]
    [event] = stream_since(
        people.session, start[-1].position if start else 0, [chat_events.BROADCAST_REMINDED]
    )
    assert event.data["user_ids"] == sorted(reminded)


@pytest.mark.parametrize(
    ("who", "call", "error"),
    [
        ("asha", "send", PermissionDenied),  # a recipient does not send into a broadcast
        ("asha", "table", PermissionDenied),  # nor sees who acknowledged
        ("dev", "acknowledge", NotFound),  # another district's officer is not in it at all
        ("dev", "table", NotFound),
    ],
)
def test_broadcast_refusals(people: People, who: str, call: str, error: type[Exception]) -> None:
    room = broadcasts.create_broadcast(**people.who("sp"), name="Circular")
    order = messages.send_text(**people.who("sp"), room_id=room.id, body="order")
    with pytest.raises(error):
        if call == "send":
            messages.send_text(**people.who(who), room_id=room.id, body="reply-all")
        elif call == "table":
            broadcasts.acknowledgements(**people.who(who), event_key=order.event_key)
        else:
            broadcasts.acknowledge(**people.who(who), event_key=order.event_key)


def test_only_a_supervisor_opens_a_broadcast_from_their_unit(people: People) -> None:
    with pytest.raises(PermissionDenied):
        broadcasts.create_broadcast(**people.who("asha"), name="not mine to send")
    with pytest.raises(PermissionDenied):
        broadcasts.create_broadcast(
            **people.who("sp"), name="not my unit", unit_id=people.units["DST-B"]
        )


def test_acknowledging_a_message_that_is_not_a_broadcast_is_refused(people: People) -> None:
    room = rooms.create_group(**people.who("asha"), name="g")
    sent = messages.send_text(**people.who("asha"), room_id=room.id, body="hi")
    with pytest.raises(PermissionDenied):
        broadcasts.acknowledge(**people.who("asha"), event_key=sent.event_key)


def test_a_disabled_user_leaves_and_an_enabled_one_returns(people: People) -> None:
    follower = Follower(people.session)
    follower.catch_up()
    channel = channels.unit_channel(people.session, people.units["PS-A1"])
    assert channel is not None
    users.disable_user(session=people.session, username="bala", context=SYSTEM)
    follower.catch_up()
    assert joined(people, channel.id) == ["asha"]
    users.enable_user(session=people.session, username="bala", context=SYSTEM)
    follower.catch_up()
    assert joined(people, channel.id) == ["asha", "bala"]


def test_a_new_unit_gets_its_channel(people: People) -> None:
    follower = Follower(people.session)
    follower.catch_up()
    unit = units.create_unit(
        session=people.session,
        spec=UnitSpec("PS-A3", "थाना ए3", UnitKind.STATION, "SDV-A"),
        context=SYSTEM,
    )
    assert channels.unit_channel(people.session, unit.id) is None
    follower.catch_up()
    channel = channels.unit_channel(people.session, unit.id)
    assert channel is not None and channel.name == "थाना ए3"


def test_the_consumer_is_registered_with_the_others() -> None:
    from polaris.events import registered_consumers
    from polaris.handlers import load_consumers

    load_consumers()
    assert channels.CONSUMER in {chosen.name for chosen in registered_consumers()}


def test_every_unit_without_a_channel_gets_one(people: People) -> None:
    made = channels.ensure_all_unit_channels(people.session)
    assert made == len(people.units)
    assert channels.ensure_all_unit_channels(people.session) == 0
    channel = channels.unit_channel(people.session, people.units["PS-B1"])
    assert channel is not None and joined(people, channel.id) == ["dev"]
