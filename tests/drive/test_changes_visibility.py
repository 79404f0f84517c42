"""The changes feed shows each caller what they may see, and ``gone`` only for what they could.

The people (``tests/drive/conftest.py``): in station PS-A1 a constable (``ct.a1``, unclassified),
a head constable (``hc.a1``, restricted), a sub-inspector (``si.a1``, confidential) and the station
head (``sho.a1``, secret); the subdivision head above it (``sdop.a``, reads the subtree); a head
constable of the sibling station (``hc.a2``) and of the other range (``hc.b1``); an administrator
at headquarters (``admin``, reads PHQ's space only). A change hidden from someone must give them
the page a change to a node that does not exist gives (``Stream.hidden``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from tests.drive.conftest import Drive
from tests.drive.feed_support import API, Stream

#: Who reads an unclassified node of PS-A1's unit space, and who never does.
READERS = ("ct.a1", "hc.a1", "si.a1", "sho.a1", "sdop.a")
OUTSIDERS = ("hc.a2", "hc.b1", "admin")


@dataclass
class World:
    stream: Stream
    unit_root: int  # PS-A1's unit space
    cases: int  # a folder in it
    fir: int  # an unclassified file in it
    home: int  # sho.a1's personal space


@pytest.fixture
def world(drive: Drive) -> World:
    stream = Stream(drive)
    unit_root = drive.root("sho.a1", "unit")
    cases = stream.folder("sho.a1", unit_root, "Cases")
    fir = stream.upload("sho.a1", cases, "FIR 12-2026.pdf")
    return World(stream, unit_root, cases, fir, drive.root("sho.a1"))


def _entries(stream: Stream, who: str, since: int) -> list[tuple[int, str]]:
    return stream.entries(who, since)


def _only_entry(stream: Stream, who: str, since: int) -> dict[str, Any]:
    page = stream.read(who, since)
    assert len(page["changes"]) == 1, (who, page)
    assert page["next_position"] == stream.head() and page["more"] is False
    return page["changes"][0]  # type: ignore[no-any-return]


def test_new_and_changed_files_reach_those_who_may_read_them(world: World) -> None:
    s = world.stream
    start = s.head()
    memo = s.upload("hc.a1", world.cases, "memo.pdf")
    s.rename("hc.a1", memo, "memo-final.pdf")
    s.new_version("hc.a1", memo, b"%PDF-1.7 second")
    for who in READERS:
        entry = _only_entry(s, who, start)
        node = s.drive.get(who, f"{API}/nodes/{memo}").json()
        assert set(entry.pop("events")) == {"node.created", "version.added", "node.renamed"}
        assert entry == {
            "node_id": memo,
            "change": "changed",
            "space_id": node["space_id"],
            "parent_id": world.cases,
            "kind": "file",
            "name": "memo-final.pdf",
            "etag": node["etag"],
        }
    s.hidden(start, *OUTSIDERS)


def test_copies_and_restored_versions_reach_those_who_may_read_them(world: World) -> None:
    s = world.stream
    s.new_version("sho.a1", world.fir, b"%PDF-1.7 second")
    archive = s.folder("sho.a1", world.unit_root, "Archive")
    start = s.head()
    copy = s.copy("sho.a1", world.cases, archive)
    s.restore_version("sho.a1", world.fir, s.versions(world.fir)[0])
    for who in READERS:
        page = s.read(who, start)
        found = {e["node_id"]: (e["parent_id"], e["events"]) for e in page["changes"]}
        [copied_file] = set(found) - {copy, world.fir}
        assert found == {
            copy: (archive, ["node.copied"]),
            copied_file: (copy, ["version.added"]),  # each copied file has a version of its own
            world.fir: (world.cases, ["version.restored"]),
        }
    s.hidden(start, *OUTSIDERS)


def test_a_secret_file_reaches_only_those_cleared_for_it(world: World) -> None:
    s = world.stream
    vault = s.folder("sho.a1", world.unit_root, "Vault", classification="secret")
    start = s.head()
    s.upload("sho.a1", vault, "informer.pdf")
    for who in ("sho.a1", "sdop.a"):
        assert _only_entry(s, who, start)["parent_id"] == vault
    s.hidden(start, "ct.a1", "hc.a1", "si.a1", *OUTSIDERS)


def test_an_administrator_follows_their_own_reach_not_every_station(world: World) -> None:
    """Administration gives no reach into documents: the administrator's role reads PHQ's
    space, and their own is theirs, like everyone's."""
    s = world.stream
    home = s.drive.root("admin")
    start = s.head()
    circular = s.upload("admin", home, "circular.pdf")
    assert _only_entry(s, "admin", start)["node_id"] == circular
    s.hidden(start, "sho.a1", "sdop.a", "hc.b1")


def test_moved_out_of_sight_is_gone_for_those_who_saw_it_and_nothing_for_the_rest(
    world: World,
) -> None:
    s = world.stream
    start = s.head()
    s.move("sho.a1", world.fir, world.home)  # into the station head's personal space
    for who in ("ct.a1", "hc.a1", "si.a1", "sdop.a"):  # supervisors do not reach personal spaces
        assert _entries(s, who, start) == [(world.fir, "gone")]
        assert _only_entry(s, who, start) == {
            "node_id": world.fir,
            "change": "gone",
            "events": [],
            "space_id": None,
            "parent_id": None,
            "kind": None,
            "name": None,
            "etag": None,
        }
    moved = _only_entry(s, "sho.a1", start)
    assert (moved["change"], moved["parent_id"], moved["events"]) == (
        "changed",
        world.home,
        ["node.moved"],
    )
    s.hidden(start, *OUTSIDERS)

    # Moves where it is now, and back into the unit's space: a change for whoever sees it now.
    private = s.folder("sho.a1", world.home, "Private")
    start = s.head()
    s.move("sho.a1", world.fir, private)
    s.hidden(start, "ct.a1", "sdop.a", *OUTSIDERS)
    start = s.head()
    s.move("sho.a1", world.fir, world.cases)
    for who in READERS:
        assert _entries(s, who, start) == [(world.fir, "changed")]


def test_the_trash_and_a_purge_are_gone_for_those_who_saw_the_node(world: World) -> None:
    s = world.stream
    before_trash = s.head()
    s.trash("sho.a1", world.fir)
    for who in READERS:
        assert _entries(s, who, before_trash) == [(world.fir, "gone")]
    s.hidden(before_trash, *OUTSIDERS)

    before_purge = s.head()
    s.purge(world.fir)
    for who in READERS:
        # A client that read the trash learns it again, harmlessly; one that did not learns it now.
        assert _entries(s, who, before_purge) == [(world.fir, "gone")]
        assert _entries(s, who, before_trash) == [(world.fir, "gone")]
    s.hidden(before_purge, *OUTSIDERS)


def test_a_purged_folder_is_gone_with_what_was_in_it(world: World) -> None:
    s = world.stream
    s.trash("sho.a1", world.cases)
    start = s.head()
    s.purge(world.cases)
    # The file's parent is purged too: the folder's ``gone`` stands for its whole subtree.
    for who in READERS:
        assert _entries(s, who, start) == [(world.cases, "gone")]
    s.hidden(start, *OUTSIDERS)


def test_a_node_reclassified_above_a_clearance_is_gone_for_that_clearance(world: World) -> None:
    s = world.stream
    start = s.head()
    s.classify("sho.a1", world.fir, "secret")
    for who in ("ct.a1", "hc.a1", "si.a1"):
        assert _entries(s, who, start) == [(world.fir, "gone")]
    for who in ("sho.a1", "sdop.a"):
        assert _entries(s, who, start) == [(world.fir, "changed")]
    s.hidden(start, *OUTSIDERS)


def test_a_reclassification_tells_nothing_to_those_who_never_were_cleared(world: World) -> None:
    s = world.stream
    confidential = s.folder("sho.a1", world.unit_root, "Confidential", "confidential")
    report = s.upload("sho.a1", confidential, "report.pdf")
    start = s.head()
    s.classify("sho.a1", report, "secret")
    assert _entries(s, "si.a1", start) == [(report, "gone")]
    s.hidden(start, "ct.a1", "hc.a1", *OUTSIDERS)


def test_a_share_appears_to_its_grantee_and_is_gone_when_revoked(world: World) -> None:
    s = world.stream
    diary = s.upload("sho.a1", world.home, "diary.pdf")
    start = s.head()
    share = s.share("sho.a1", diary, "user", s.drive.user_ids["hc.b1"])
    granted = _only_entry(s, "hc.b1", start)
    assert (granted["node_id"], granted["change"], granted["events"]) == (
        diary,
        "changed",
        ["share.granted"],
    )
    # Nobody else hears of the share, not even those who may read the node anyway.
    s.hidden(start, "sho.a1", "ct.a1", "sdop.a", "hc.a2", "admin")

    start = s.head()
    s.revoke("sho.a1", share)
    assert _entries(s, "hc.b1", start) == [(diary, "gone")]
    s.hidden(start, "sho.a1", "ct.a1", "sdop.a", "hc.a2", "admin")


def test_sharing_a_node_others_read_tells_them_nothing(world: World) -> None:
    s = world.stream
    start = s.head()
    share = s.share("sho.a1", world.fir, "user", s.drive.user_ids["hc.b1"])
    s.revoke("sho.a1", share)
    s.hidden(start, *READERS, "hc.a2", "admin")


def test_a_share_above_the_grantees_clearance_never_reaches_them(world: World) -> None:
    s = world.stream
    confidential = s.folder("sho.a1", world.home, "Confidential", "confidential")
    start = s.head()
    share = s.share("sho.a1", confidential, "user", s.drive.user_ids["hc.b1"])  # restricted
    s.revoke("sho.a1", share)
    s.hidden(start, "hc.b1")


@pytest.mark.parametrize(
    ("subject", "extra", "reached"),
    [
        ("PS-B1", {}, True),
        ("SDV-B", {"include_subunits": True}, True),
        ("SDV-B", {}, False),  # a unit share without the units below reaches that unit only
    ],
)
def test_a_unit_share_reaches_its_units(
    world: World, subject: str, extra: dict[str, Any], reached: bool
) -> None:
    s = world.stream
    start = s.head()
    share = s.share("sho.a1", world.fir, "unit", s.drive.unit_ids[subject], **extra)
    s.revoke("sho.a1", share)
    if reached:
        assert _entries(s, "hc.b1", start) == [(world.fir, "gone")]
    else:
        s.hidden(start, "hc.b1")


def test_a_group_share_reaches_its_members_only(world: World) -> None:
    s = world.stream
    group = s.group("SIT", "PS-A1", "hc.b1")  # seen in PS-A1, so sho.a1 may share with it
    start = s.head()
    share = s.share("sho.a1", world.home, "group", group)
    assert _entries(s, "hc.b1", start) == [(world.home, "changed")]
    s.hidden(start, "hc.a2", "ct.a1")
    start = s.head()
    s.revoke("sho.a1", share)
    assert _entries(s, "hc.b1", start) == [(world.home, "gone")]
    s.hidden(start, "hc.a2", "ct.a1")


def test_no_gone_for_a_node_moved_out_before_its_folder_was_shared(world: World) -> None:
    """The folder is visible now, but was not when the file left it."""
    s = world.stream
    folder = s.folder("sho.a1", world.home, "Drafts")
    draft = s.upload("sho.a1", folder, "draft.pdf")
    start = s.head()
    s.move("sho.a1", draft, world.home)
    s.share("sho.a1", folder, "user", s.drive.user_ids["hc.b1"])
    assert _entries(s, "hc.b1", start) == [(folder, "changed")]


def test_no_gone_when_the_folder_moved_into_a_share_after_the_change(world: World) -> None:
    """Today's path of the old folder runs through a share that did not reach it then."""
    s = world.stream
    shared = s.folder("sho.a1", world.home, "Shared")
    s.share("sho.a1", shared, "user", s.drive.user_ids["hc.b1"])
    drafts = s.folder("sho.a1", world.home, "Drafts")
    draft = s.upload("sho.a1", drafts, "draft.pdf")
    start = s.head()
    s.trash("sho.a1", draft)
    s.move("sho.a1", drafts, shared)
    assert _entries(s, "hc.b1", start) == [(drafts, "changed")]


def test_no_gone_when_the_caller_joined_the_group_after_the_revocation(world: World) -> None:
    s = world.stream
    group = s.group("SIT", "PS-A1")
    diary = s.upload("sho.a1", world.home, "diary.pdf")
    start = s.head()
    share = s.share("sho.a1", diary, "group", group)
    s.revoke("sho.a1", share)
    s.join(group, "hc.b1")
    page = s.read("hc.b1", start)
    assert page["changes"] == []
    assert page["relist"] is True  # their groups changed: they list again


def test_a_move_tells_nothing_to_those_below_the_level_it_had_where_it_was(world: World) -> None:
    """The move's ``level`` is the level after; the level before comes from the old place."""
    s = world.stream
    vault = s.folder("sho.a1", world.unit_root, "Vault", classification="secret")
    in_vault = s.upload("sho.a1", vault, "in-vault.pdf")  # unclassified itself, secret by place
    secret = s.upload("sho.a1", world.cases, "secret.pdf")
    s.classify("sho.a1", secret, "secret")
    lowered = s.upload("sho.a1", world.cases, "lowered.pdf")
    s.classify("sho.a1", lowered, "secret")
    s.share("sho.a1", lowered, "user", s.drive.user_ids["admin"])  # an administrator reads it
    start = s.head()
    for node in (in_vault, secret, lowered):
        s.move("sho.a1", node, world.home)
    # its level then is not its level now (lowered by an administrator: an owner only raises)
    s.classify("admin", lowered, "unclassified")
    assert _entries(s, "sho.a1", start) == [
        (in_vault, "changed"),
        (secret, "changed"),
        (lowered, "changed"),
    ]
    # Reclassified since, ``lowered``'s level at the move is not provable: silence (the client's
    # ETag check finds it gone).
    assert _entries(s, "sdop.a", start) == [(in_vault, "gone"), (secret, "gone")]
    # (The administrator is no outsider here: ``lowered`` is shared with them.)
    s.hidden(start, "ct.a1", "hc.a1", "si.a1", *(who for who in OUTSIDERS if who != "admin"))


def test_a_hidden_change_costs_the_queries_of_a_change_to_a_missing_node(world: World) -> None:
    """Not a timing test: the statements a page runs are counted, for one change of each kind."""
    s = world.stream
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    other = s.drive.user_ids["hc.a2"]
    changes = {
        "missing": s.missing_change,
        "trashed": lambda: s.trash("sho.a1", world.fir),
        "moved": lambda: s.move("sho.a1", world.cases, world.home),
        "renamed": lambda: s.rename("sho.a1", world.cases, "Old cases"),
        "someone else's reach": lambda: s.stand_in("user.moved", ("user", other), None, unit_id=1),
    }
    costs = {}
    event.listen(s.drive.instance.engine, "before_cursor_execute", count)
    try:
        for name, change in changes.items():
            start = s.head()
            change()
            s.feed("hc.b1", start)  # the token's first use of a run may write; not counted
            statements.clear()
            page = s.read("hc.b1", start)
            assert page["changes"] == [], name
            costs[name] = len(statements)
    finally:
        event.remove(s.drive.instance.engine, "before_cursor_execute", count)
    assert set(costs.values()) == {costs["missing"]}, costs


def test_a_reclassification_above_after_a_trash_leaves_the_trash_gone(world: World) -> None:
    """The trash event holds the level: a folder above reclassified since changes nothing."""
    s = world.stream
    start = s.head()
    s.trash("sho.a1", world.fir)
    s.classify("sho.a1", world.cases, "secret")
    for who in ("ct.a1", "hc.a1", "si.a1"):
        assert _entries(s, who, start) == [(world.fir, "gone"), (world.cases, "gone")]
    for who in ("sho.a1", "sdop.a"):
        assert _entries(s, who, start) == [(world.fir, "gone"), (world.cases, "changed")]
    s.hidden(start, *OUTSIDERS)
