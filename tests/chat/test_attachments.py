"""Attachments: a drive file sent into a room is shared with the room's audience through the
drive's shares, never reaches a member below its classification, and is read per room, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from polaris.access.policy import Classification
from polaris.chat import attachments, messages, rooms
from polaris.chat.models import ChatEvent
from polaris.drive import service as drive
from polaris.drive import spaces
from polaris.drive.models import FILE, FOLDER, Share
from polaris.drive.spaces import SpaceDefaults
from polaris.errors import NotFound, ValidationFailed
from tests.chat.conftest import People, audit_actions

C = Classification


def file_of(people: People, owner: str, name: str, level: Classification, kind: str = FILE) -> int:
    user = people.users[owner]
    space = spaces.ensure_user_space(people.session, user, SpaceDefaults(10**9, 10**9))
    root = spaces.root_node(people.session, space)
    parent = drive.get_node(**people.who(owner), node_id=root.id)
    node = drive.insert_node(
        people.session,
        actor=people.actor(owner),
        parent=parent,
        name=name,
        kind=kind,
        classification=level,
    )
    return node.id


def group(people: People, *members: str) -> int:
    room = rooms.create_group(**people.who("sp"), name="केस फ़ाइलें")
    for member in members:
        rooms.invite(**people.who("sp"), room_id=room.id, user_id=people.id(member))
    return room.id


@pytest.mark.parametrize(
    ("level", "members", "refused"),
    [
        (C.UNCLASSIFIED, ("asha", "bala"), False),
        (C.RESTRICTED, ("asha",), False),
        (C.RESTRICTED, ("asha", "bala"), True),  # bala is unclassified, and only invited
        (C.CONFIDENTIAL, ("asha",), True),
        (C.SECRET, (), False),  # only the sender, who is cleared
    ],
)
def test_a_file_never_reaches_a_member_below_its_classification(
    people: People, level: Classification, members: tuple[str, ...], refused: bool
) -> None:
    room_id = group(people, *members)
    node_id = file_of(people, "sp", f"report-{level.name}.pdf", level)
    shares_before = people.session.scalar(select(func.count(Share.id)))
    events_before = people.session.scalar(select(func.count(ChatEvent.id)))
    if refused:
        with pytest.raises(ValidationFailed) as refusal:
            attachments.send_attachment(**people.who("sp"), room_id=room_id, node_id=node_id)
        assert refusal.value.code == "chat_attachment_above_clearance"
        assert people.session.scalar(select(func.count(Share.id))) == shares_before
        assert people.session.scalar(select(func.count(ChatEvent.id))) == events_before
        return
    sent = attachments.send_attachment(
        **people.who("sp"), room_id=room_id, node_id=node_id, caption="FIR की प्रति"
    )
    shared_with = people.session.scalars(
        select(Share.subject_id).where(Share.node_id == node_id).order_by(Share.subject_id)
    )
    assert list(shared_with) == sorted(people.id(m) for m in members)
    assert (sent.kind, sent.body) == ("attachment", "FIR की प्रति")


def test_reading_an_attachment_is_per_room_and_audited(people: People) -> None:
    room_id = group(people, "asha")
    rooms.join(**people.who("asha"), room_id=room_id)
    node_id = file_of(people, "sp", "orders.pdf", C.RESTRICTED)
    sent = attachments.send_attachment(**people.who("sp"), room_id=room_id, node_id=node_id)
    grant = attachments.open_attachment(**people.who("asha"), event_key=sent.event_key)
    assert (grant.node_id, grant.room_id, grant.classification) == (node_id, room_id, C.RESTRICTED)
    assert audit_actions(people.session, "chat.attachment.")[-1] == "chat.attachment.read"
    with pytest.raises(NotFound):  # not in the room: the file's id alone opens nothing
        attachments.open_attachment(**people.who("dev"), event_key=sent.event_key)
    # A member who joins later, below the file's level, does not get it either.
    rooms.invite(**people.who("sp"), room_id=room_id, user_id=people.id("bala"))
    rooms.join(**people.who("bala"), room_id=room_id)
    with pytest.raises(NotFound) as hidden:
        attachments.open_attachment(**people.who("bala"), event_key=sent.event_key)
    assert hidden.value.code == "not_found"
    text = messages.send_text(**people.who("sp"), room_id=room_id, body="not a file")
    with pytest.raises(NotFound):
        attachments.open_attachment(**people.who("asha"), event_key=text.event_key)


def test_only_files_are_sent_and_only_by_someone_who_may_read_them(people: People) -> None:
    room_id = group(people, "asha")
    folder = file_of(people, "sp", "a folder", C.UNCLASSIFIED, kind=FOLDER)
    with pytest.raises(ValidationFailed) as refused:
        attachments.send_attachment(**people.who("sp"), room_id=room_id, node_id=folder)
    assert refused.value.code == "chat_attachment_not_file"
    rooms.join(**people.who("asha"), room_id=room_id)
    others = file_of(people, "sp", "sp-only.pdf", C.UNCLASSIFIED)
    with pytest.raises(NotFound):
        attachments.send_attachment(**people.who("asha"), room_id=room_id, node_id=others)


def test_a_repeated_attachment_send_shares_once(people: People) -> None:
    room_id = group(people, "asha")
    node_id = file_of(people, "sp", "once.pdf", C.UNCLASSIFIED)
    first, again = (
        attachments.send_attachment(
            **people.who("sp"), room_id=room_id, node_id=node_id, device_id="D", txn_id="t1"
        )
        for _ in range(2)
    )
    assert first.id == again.id
    assert people.session.scalar(select(func.count(Share.id)).where(Share.node_id == node_id)) == 1
