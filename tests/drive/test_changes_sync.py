"""A sync client that lists once and then follows the feed ends up with what listing again gives.

The client below does what ``docs/sync.md`` tells one to: ask where to follow from, list
everything it may see, then apply the feed page by page (small pages, to cross their borders):
fetch a node reported changed (and list a folder new to it), drop a node reported gone with what
is below it (then read what is shared with it again), list again on ``relist``. After each burst of
changes, by people who may and may not see them, its mirror must equal a fresh listing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.drive.conftest import Drive
from tests.drive.feed_support import API, Stream

Mirror = dict[int, tuple[int | None, str, str, str | None]]  # id -> parent, name, kind, file etag


class Client:
    def __init__(self, stream: Stream, who: str) -> None:
        self.stream, self.who, self.drive = stream, who, stream.drive
        start = self.drive.get(who, f"{API}/changes")
        assert start.status_code == 200, start.text
        self.position = start.json()["next_position"]
        self.nodes: Mirror = {}
        self.list_all()

    def list_all(self) -> None:
        self.nodes = listing(self.drive, self.who)

    def follow(self) -> None:
        while True:
            page = self.stream.read(self.who, self.position, limit=3)
            for entry in page["changes"]:
                if entry["change"] == "gone":
                    self._drop(entry["node_id"])
                    self._add_shared()
                else:
                    self._refresh(entry["node_id"], entry["events"])
            self.position = page["next_position"]
            if page["relist"]:
                self.list_all()
            if not page["more"]:
                return

    def _refresh(self, node_id: int, kinds: list[str]) -> None:
        response = self.drive.get(self.who, f"{API}/nodes/{node_id}")
        if response.status_code == 404:  # gone since the page was read: a later page says so
            self._drop(node_id)
            return
        node = response.json()
        # A folder new to the client is listed; a reclassified one too: the ETags below it moved.
        relist = node_id not in self.nodes or "node.classified" in kinds
        self.nodes[node_id] = _row(node)
        if relist and node["kind"] == "folder":
            _walk(self.drive, self.who, node_id, self.nodes)

    def _drop(self, node_id: int) -> None:
        doomed = {node_id}
        while True:
            below = {i for i, row in self.nodes.items() if row[0] in doomed} - doomed
            if not below:
                break
            doomed |= below
        for i in doomed:
            self.nodes.pop(i, None)

    def _add_shared(self) -> None:
        for shared in self.drive.get(self.who, f"{API}/shares/with-me").json():
            node = shared["node"]
            if node["id"] not in self.nodes:
                self.nodes[node["id"]] = _row(node)
                if node["kind"] == "folder":
                    _walk(self.drive, self.who, node["id"], self.nodes)


def listing(drive: Drive, who: str) -> Mirror:
    """Everything ``who`` may see: their spaces, and what is shared with them, listed."""
    found: Mirror = {}
    for space in drive.get(who, f"{API}/spaces").json():
        root = drive.get(who, f"{API}/nodes/{space['root_id']}").json()
        found[root["id"]] = _row(root)
        _walk(drive, who, root["id"], found)
    for shared in drive.get(who, f"{API}/shares/with-me").json():
        node = shared["node"]
        found[node["id"]] = _row(node)
        if node["kind"] == "folder":
            _walk(drive, who, node["id"], found)
    return found


def _walk(drive: Drive, who: str, folder: int, found: Mirror) -> None:
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = drive.get(who, f"{API}/nodes/{folder}/children", params=params).json()
        for child in page["items"]:
            found[child["id"]] = _row(child)
            if child["kind"] == "folder":
                _walk(drive, who, child["id"], found)
        cursor = page["next_cursor"]
        if cursor is None:
            return


def _row(node: dict[str, Any]) -> tuple[int | None, str, str, str | None]:
    # A folder's ETag moves with every change below it; the feed reports the changed node.
    etag = node["etag"] if node["kind"] == "file" else None
    return node["parent_id"], node["name"], node["kind"], etag


PEOPLE = ("ct.a1", "si.a1", "sho.a1", "sdop.a", "hc.b1", "admin")


@pytest.fixture
def stream(drive: Drive) -> Stream:
    for who in PEOPLE:  # spaces are made on first use, which is no change to follow
        listing(drive, who)
    return Stream(drive)


def test_a_client_following_the_feed_mirrors_what_listing_gives(stream: Stream) -> None:
    s, drive = stream, stream.drive
    unit, home, other = drive.root("sho.a1", "unit"), drive.root("sho.a1"), drive.root("hc.b1")
    clients = {who: Client(s, who) for who in PEOPLE}

    def check() -> None:
        for who, client in clients.items():
            client.follow()
            assert client.nodes == listing(drive, who), who

    a = s.folder("sho.a1", unit, "A")
    a1 = s.upload("sho.a1", a, "a1.pdf")
    a2 = s.upload("sho.a1", a, "a2.pdf")
    b = s.folder("sho.a1", a, "B")
    b1 = s.upload("sho.a1", b, "b1.pdf")
    s.upload("hc.b1", other, "elsewhere.pdf")
    check()

    s.rename("sho.a1", a1, "a1 final.pdf")
    s.new_version("sho.a1", a2, b"%PDF-1.7 two")
    s.move("sho.a1", b1, home)  # out of the station's sight
    shared = s.folder("sho.a1", home, "Shared")
    share = s.share("sho.a1", shared, "user", drive.user_ids["hc.b1"])
    s.upload("sho.a1", shared, "for-b1.pdf")
    check()

    s.move("sho.a1", b, shared)  # a folder out of one's sight into another's
    s.classify("sho.a1", a2, "confidential")
    s.trash("sho.a1", a)
    check()

    s.restore("sho.a1", a)
    s.move("sho.a1", b1, unit)  # back into sight
    s.revoke("sho.a1", share)
    check()

    s.trash("sho.a1", a1)
    s.purge(a1)
    s.classify("sho.a1", a, "secret")
    check()
