"""Drive actions through the API, each checked to leave its catalogue event, and feed reads.

Each action does the real thing through the HTTP API (real rows, real checks, the drive's own
events), then checks that the stream holds the event ``docs/events.md`` names for it, with the
data computed here from the rows. The stream is then sequenced, so the feed sees it. Kinds that no
code path appends yet (``user.moved``, ``unit.moved``...) and changes to nodes that do not exist
are appended by ``stand_in``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from polaris.db.uow import unit_of_work
from polaris.drive import repo
from polaris.drive.models import FileVersion, Node, Share
from polaris.events import append, head_position
from polaris.events.consumers import sequence_pending
from polaris.events.models import DomainEvent
from tests.drive.conftest import Drive

API = "/api/v1"


@dataclass
class Stream:
    """The drive of a test, with the catalogue events of what is done through it."""

    drive: Drive
    last_id: int = field(default=0)

    def __post_init__(self) -> None:
        self.last_id = self._max_event_id()

    # The stream

    def head(self) -> int:
        sequence_pending(self.drive.instance.sessions)
        with self._session() as session:
            return head_position(session)

    def record(
        self, kind: str, subject: tuple[str, int], space_id: int | None, **data: Any
    ) -> None:
        """Check that the action just done appended ``kind`` about ``subject``, with this data."""
        with unit_of_work(self.drive.instance.sessions) as session:
            done = session.scalar(
                select(DomainEvent).where(
                    DomainEvent.kind == kind,
                    DomainEvent.subject_type == subject[0],
                    DomainEvent.subject_id == subject[1],
                    DomainEvent.id > self.last_id,
                )
            )
            assert done is not None, f"the action appended no {kind} about {subject}"
            assert done.space_id == space_id, (kind, done.space_id, space_id)
            assert {k: done.data.get(k) for k in data} == data, (kind, done.data, data)
        sequence_pending(self.drive.instance.sessions)

    def stand_in(
        self, kind: str, subject: tuple[str, int], space_id: int | None, **data: Any
    ) -> None:
        """Append an event no action of the API makes (yet), as its producer would."""
        with unit_of_work(self.drive.instance.sessions) as session:
            append(session, kind=kind, subject=subject, space_id=space_id, data=data)
        self.last_id = self._max_event_id()
        sequence_pending(self.drive.instance.sessions)

    def feed(self, who: str, since: int | None, limit: int | None = None) -> Any:
        params: dict[str, int] = {}
        if since is not None:
            params["since"] = since
        if limit is not None:
            params["limit"] = limit
        return self.drive.get(who, f"{API}/changes", params=params)

    def read(self, who: str, since: int, limit: int | None = None) -> dict[str, Any]:
        response = self.feed(who, since, limit)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def entries(self, who: str, since: int) -> list[tuple[int, str]]:
        """(node id, change) of every entry from ``since`` to the head, all pages."""
        found: list[tuple[int, str]] = []
        while True:
            page = self.read(who, since)
            found += [(entry["node_id"], entry["change"]) for entry in page["changes"]]
            since = page["next_position"]
            if not page["more"]:
                return found

    # Rows

    def node(self, node_id: int) -> Node | None:
        with self._session() as session:
            return session.get(Node, node_id)

    def level(self, node_id: int) -> int:
        """The effective level: the highest on the node's path."""
        with self._session() as session:
            node = session.get(Node, node_id)
            assert node is not None
            chain = repo.nodes_by_id(session, repo.path_ids(node.path))
            return max(n.classification for n in chain.values())

    # Actions

    def upload(self, who: str, parent: int, name: str, data: bytes = b"%PDF-1.7 x") -> int:
        self._begin()
        node = self.drive.upload(who, parent, name, data)
        node_id = int(node["id"])
        row = self.node(node_id)
        assert row is not None
        level = self.level(node_id)
        self.record(
            "node.created",
            ("node", node_id),
            row.space_id,
            parent_id=parent,
            level=level,
            folder=False,
        )
        self.record(
            "version.added",
            ("version", self._current_version(node_id)),
            row.space_id,
            node_id=node_id,
            parent_id=parent,
            level=level,
        )
        return node_id

    def folder(self, who: str, parent: int, name: str, classification: str | None = None) -> int:
        self._begin()
        body: dict[str, Any] = {"name": name}
        if classification is not None:
            body["classification"] = classification
        response = self.drive.post(who, f"{API}/nodes/{parent}/folders", json=body)
        assert response.status_code == 201, response.text
        node_id = int(response.json()["id"])
        row = self.node(node_id)
        assert row is not None
        self.record(
            "node.created",
            ("node", node_id),
            row.space_id,
            parent_id=parent,
            level=self.level(node_id),
            folder=True,
        )
        return node_id

    def new_version(self, who: str, node_id: int, data: bytes) -> None:
        self._begin()
        response = self.drive.put(who, f"{API}/files/{node_id}/content", content=data)
        assert response.status_code == 200, response.text
        row = self.node(node_id)
        assert row is not None
        self.record(
            "version.added",
            ("version", self._current_version(node_id)),
            row.space_id,
            node_id=node_id,
            parent_id=row.parent_id,
            level=self.level(node_id),
        )

    def copy(self, who: str, node_id: int, parent: int) -> int:
        self._begin()
        response = self.drive.post(who, f"{API}/nodes/{node_id}/copy", json={"parent_id": parent})
        assert response.status_code == 201, response.text
        copy = int(response.json()["id"])
        row = self.node(copy)
        assert row is not None
        self.record(
            "node.copied",
            ("node", copy),
            row.space_id,
            parent_id=parent,
            source_id=node_id,
            level=self.level(copy),
            folder=row.kind == "folder",
        )
        return copy

    def restore_version(self, who: str, node_id: int, version_id: int) -> None:
        self._begin()
        url = f"{API}/files/{node_id}/versions/{version_id}/restore"
        response = self.drive.post(who, url)
        assert response.status_code == 200, response.text
        row = self.node(node_id)
        assert row is not None
        self.record(
            "version.restored",
            ("version", self._current_version(node_id)),
            row.space_id,
            node_id=node_id,
            parent_id=row.parent_id,
            level=self.level(node_id),
        )

    def versions(self, node_id: int) -> list[int]:
        with self._session() as session:
            return self._versions(session, node_id)

    def rename(self, who: str, node_id: int, name: str) -> None:
        self._begin()
        self._patch(who, node_id, {"name": name})
        row = self.node(node_id)
        assert row is not None
        self.record(
            "node.renamed",
            ("node", node_id),
            row.space_id,
            parent_id=row.parent_id,
            level=self.level(node_id),
        )

    def move(self, who: str, node_id: int, parent: int) -> None:
        self._begin()
        before = self.node(node_id)
        assert before is not None
        from_parent, from_space = before.parent_id, before.space_id
        self._patch(who, node_id, {"parent_id": parent})
        row = self.node(node_id)
        assert row is not None
        self.record(
            "node.moved",
            ("node", node_id),
            row.space_id,
            parent_id=parent,
            from_parent_id=from_parent,
            from_space_id=from_space,
            level=self.level(node_id),
        )

    def classify(self, who: str, node_id: int, classification: str) -> None:
        self._begin()
        from_level = self.level(node_id)
        self._patch(who, node_id, {"classification": classification})
        row = self.node(node_id)
        assert row is not None
        self.record(
            "node.classified",
            ("node", node_id),
            row.space_id,
            parent_id=row.parent_id,
            level=self.level(node_id),
            from_level=from_level,
        )

    def trash(self, who: str, node_id: int) -> None:
        self._begin()
        response = self.drive.delete(who, f"{API}/nodes/{node_id}")
        assert response.status_code == 204, response.text
        row = self.node(node_id)
        assert row is not None
        self.record(
            "node.trashed",
            ("node", node_id),
            row.space_id,
            parent_id=row.parent_id,
            level=self.level(node_id),
        )

    def restore(self, who: str, node_id: int) -> None:
        self._begin()
        response = self.drive.post(who, f"{API}/nodes/{node_id}/restore")
        assert response.status_code == 200, response.text
        row = self.node(node_id)
        assert row is not None
        self.record(
            "node.restored",
            ("node", node_id),
            row.space_id,
            parent_id=row.parent_id,
            level=self.level(node_id),
        )

    def purge(self, node_id: int) -> None:
        """An administrator purges a trashed node: one event per purged node, parents first."""
        self._begin()
        with self._session() as session:
            top = session.get(Node, node_id)
            assert top is not None
            nodes = repo.subtree(session, top)
            facts = [
                (n.id, n.space_id, n.parent_id, self.level(n.id), self._versions(session, n.id))
                for n in nodes
            ]
        response = self.drive.delete("admin", f"{API}/admin/nodes/{node_id}")
        assert response.status_code == 204, response.text
        for purged, space_id, parent_id, level, versions in facts:
            self.record(
                "node.purged",
                ("node", purged),
                space_id,
                parent_id=parent_id,
                level=level,
                version_ids=versions,
            )

    def share(
        self, who: str, node_id: int, subject_type: str, subject_id: int, **extra: Any
    ) -> int:
        self._begin()
        body = {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "permission": "read",
            **extra,
        }
        response = self.drive.post(who, f"{API}/nodes/{node_id}/shares", json=body)
        assert response.status_code == 201, response.text
        share_id = int(response.json()["id"])
        row = self.node(node_id)
        assert row is not None
        self.record(
            "share.granted",
            ("share", share_id),
            row.space_id,
            node_id=node_id,
            level=self.level(node_id),
            permission_level=1,
            **{f"{subject_type}_id": subject_id},
        )
        return share_id

    def revoke(self, who: str, share_id: int) -> None:
        self._begin()
        with self._session() as session:
            share = session.get(Share, share_id)
            assert share is not None
            node_id, subject = share.node_id, (share.subject_type, share.subject_id)
        response = self.drive.delete(who, f"{API}/shares/{share_id}")
        assert response.status_code == 204, response.text
        row = self.node(node_id)
        assert row is not None
        self.record(
            "share.revoked",
            ("share", share_id),
            row.space_id,
            node_id=node_id,
            level=self.level(node_id),
            permission_level=1,
            **{f"{subject[0]}_id": subject[1]},
        )

    def group(self, name: str, unit: str, *members: str) -> int:
        self._begin()
        unit_id = self.drive.unit_ids[unit]
        created = self.drive.post(
            "admin", f"{API}/admin/groups", json={"name": name, "unit_id": unit_id}
        )
        assert created.status_code == 201, created.text
        group_id = int(created.json()["id"])
        self.record("group.created", ("group", group_id), None, unit_id=unit_id)
        for username in members:
            self.join(group_id, username)
        return group_id

    def join(self, group_id: int, username: str) -> None:
        self._begin()
        added = self.drive.post(
            "admin", f"{API}/admin/groups/{group_id}/members", json={"username": username}
        )
        assert added.status_code == 204, added.text
        self.record(
            "group.member_added",
            ("group", group_id),
            None,
            user_id=self.drive.user_ids[username],
        )

    def missing_change(self) -> None:
        """A change to a node that does not exist: what a hidden change must look like."""
        with self._session() as session:
            missing = int(session.scalar(select(func.max(Node.id))) or 0) + 1000
            space = int(session.scalar(select(func.max(Node.space_id))) or 0)
        self.stand_in("node.trashed", ("node", missing), space, parent_id=missing - 1, level=0)

    # Helpers

    def hidden(self, start: int, *people: str) -> None:
        """What the stream got since ``start`` reaches none of ``people``: each one's page is the
        page of as many changes to nodes that do not exist, byte for byte but for the position
        to go on from, which moves over both alike."""
        end = self.head()
        got = {who: self.feed(who, start) for who in people}
        for _ in range(end - start):
            self.missing_change()
        base = {who: self.feed(who, end) for who in people}
        for who in people:
            assert got[who].status_code == base[who].status_code == 200, got[who].text
            assert got[who].json()["next_position"] == end, who
            assert base[who].json()["next_position"] == end + (end - start), who
            shifted = base[who].content.replace(
                b'"next_position":%d' % (end + end - start), b'"next_position":%d' % end
            )
            assert got[who].content == shifted, who

    def _patch(self, who: str, node_id: int, body: dict[str, Any]) -> None:
        response = self.drive.patch(who, f"{API}/nodes/{node_id}", json=body)
        assert response.status_code == 200, response.text

    def _current_version(self, node_id: int) -> int:
        with self._session() as session:
            node = session.get(Node, node_id)
            assert node is not None and node.current_version_id is not None
            return node.current_version_id

    @staticmethod
    def _versions(session: Session, node_id: int) -> list[int]:
        return list(
            session.scalars(
                select(FileVersion.id)
                .where(FileVersion.node_id == node_id)
                .order_by(FileVersion.id)
            )
        )

    def _begin(self) -> None:
        """An action starts: the events it appends come after this."""
        self.last_id = self._max_event_id()

    def _max_event_id(self) -> int:
        with self._session() as session:
            return int(session.scalar(select(func.max(DomainEvent.id))) or 0)

    def _session(self) -> Session:
        return self.drive.instance.sessions()
