"""Rows of a drive rebuilt without its database (``polaris recover``, ``admin.recovery``).

The caller has planned every space, node and version from the blob store (``admin.recovery_plan``)
and inserts them here into a fresh, empty database, parents before children, with the lost
database's ids (nodes, spaces), so the placement records already in the store go on naming the
right nodes. Nothing here authorises: the caller is the operator with the master key, on an empty
instance. Versions keep their manifests (the same ids, so ``storage verify`` checks them against
the store), numbers, times and types; whoever made them is unknown and becomes ``created_by``.

Each rebuilt file appends ``version.added`` (its current version) and each folder ``node.created``
(actor none): the search index, previews and text follow as for any new content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from polaris.drive import events, repo, stamps
from polaris.drive.models import FILE, FOLDER, FileVersion, Node, Space
from polaris.drive.names import sort_key
from polaris.storage.refs import ContentRef

#: Rows added between two flushes (each flush detaches them: memory stays bounded).
FLUSH_EVERY = 2000


@dataclass(frozen=True)
class RecoveredVersion:
    number: int
    manifest_id: str
    content: ContentRef
    content_type: str | None
    created_at: dt.datetime


class Rebuild:
    """Inserts one recovered drive. Keeps each inserted folder's path and effective level (not
    its row), so the session can be emptied as it goes."""

    def __init__(self, session: Session, *, created_by: int) -> None:
        self.session = session
        self.created_by = created_by
        self.paths: dict[int, str] = {}
        self.levels: dict[int, int] = {}
        self.space_of: dict[int, int] = {}
        self.version_id = 0
        self.pending = 0
        #: Versions wait for the flush of their nodes: without relationships between the two
        #: mappers, one flush does not order their INSERTs by the foreign key.
        self.versions: list[FileVersion] = []
        #: Events wait too: appending one executes an INSERT, which would flush every row added
        #: so far, one node at a time.
        self.events: list[tuple[str, tuple[str, int], int, dict[str, int | bool]]] = []

    def space(
        self,
        *,
        space_id: int,
        kind: str,
        name: str,
        unit_id: int | None,
        owner_id: int | None,
        level: int,
        quota_bytes: int | None,
        root_id: int,
        now: dt.datetime,
    ) -> None:
        """A space and its root folder (named as the space, as new spaces are)."""
        self.session.add(
            Space(
                id=space_id,
                kind=kind,
                name=name,
                unit_id=unit_id,
                owner_id=owner_id,
                root_id=root_id,
                classification=level,
                quota_bytes=quota_bytes,
                used_bytes=0,
                created_at=now,
            )
        )
        self.session.flush()  # the root's foreign key
        self._add(
            Node(
                id=root_id,
                space_id=space_id,
                parent_id=None,
                path=f"/{root_id}/",
                kind=FOLDER,
                name=name,
                sort_name=sort_key(name),
                classification=level,
                size=0,
                created_at=now,
                **stamps.renewed(0, repo.new_etag(), now),
            )
        )
        self.paths[root_id], self.levels[root_id] = f"/{root_id}/", level
        self.space_of[root_id] = space_id

    def node(
        self,
        *,
        node_id: int,
        parent_id: int,
        kind: str,
        name: str,
        level: int,
        created_at: dt.datetime,
        trashed_at: dt.datetime | None,
        versions: Sequence[RecoveredVersion],
    ) -> None:
        """A folder or a file (with its versions) under an inserted folder."""
        space_id = self.space_of[parent_id]
        path = f"{self.paths[parent_id]}{node_id}/"
        effective = max(self.levels[parent_id], level)
        current = versions[-1] if versions else None
        modified = current.created_at if current is not None else created_at
        first_version = self.version_id + 1
        self.version_id += len(versions)
        self._add(
            Node(
                id=node_id,
                space_id=space_id,
                parent_id=parent_id,
                path=path,
                kind=kind,
                name=name,
                sort_name=sort_key(name),
                classification=level,
                size=current.content.size if current is not None else 0,
                sha256=current.content.sha256 if current is not None else None,
                content_type=current.content_type if current is not None else None,
                current_version_id=self.version_id if current is not None else None,
                created_by=self.created_by,
                created_at=created_at,
                trashed_at=trashed_at,
                trashed_by=self.created_by if trashed_at is not None else None,
                **stamps.renewed(0, repo.new_etag(), modified),
            )
        )
        if kind == FOLDER:
            self.paths[node_id], self.levels[node_id] = path, effective
            self.space_of[node_id] = space_id
            data = {"parent_id": parent_id, "level": effective, "folder": True}
            self.events.append((events.NODE_CREATED, ("node", node_id), space_id, data))
            return
        assert kind == FILE
        for version_id, version in enumerate(versions, start=first_version):
            self.versions.append(
                FileVersion(
                    id=version_id,
                    node_id=node_id,
                    number=version.number,
                    size=version.content.size,
                    sha256=version.content.sha256,
                    manifest_id=version.manifest_id,
                    content=version.content.to_dict(),
                    content_type=version.content_type,
                    created_by=self.created_by,
                    created_at=version.created_at,
                )
            )
        if current is not None:
            data = {"node_id": node_id, "parent_id": parent_id, "level": effective}
            self.events.append((events.VERSION_ADDED, ("version", self.version_id), space_id, data))

    def finish(self) -> None:
        """Flush the rest, and set each space's usage to the bytes its versions hold."""
        self._flush()
        for space_id in sorted(set(self.space_of.values())):
            used = repo.space_content_bytes(self.session, space_id)
            repo.set_used_bytes(self.session, space_id, used)
        self.session.flush()

    def _add(self, row: object) -> None:
        self.session.add(row)
        self.pending += 1
        if self.pending + len(self.versions) + len(self.events) >= FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        self.session.flush()
        self.session.add_all(self.versions)
        self.session.flush()
        for kind, subject, space_id, data in self.events:
            events.append_recovered(self.session, kind, subject, space_id, **data)
        self.session.expunge_all()
        self.versions, self.events, self.pending = [], [], 0
