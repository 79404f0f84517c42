"""Planning a recovery without the database: the spaces, folders, files and versions that the blob
store's manifests and placement records describe, and where each goes (``polaris recover``).

Pure: no database, no store. The rules (docs/operations.md, "Recovery without the database"):

* a node's **newest placement record** says where it is (name, parent, space, own level, trash
  mark); a file without one is where its newest manifest put it (its parent's id, else its path);
* a file's **versions** are its manifests, by version number, with their own times, types and
  levels; two manifests of one number (an upload whose row never committed, then a retry): the
  later is the version, the earlier goes to ``lost+found``;
* a **tombstone** (the node was purged) keeps its older manifests from coming back; manifests older
  than a node's creation belong to an earlier node of the same id (purged) and are left out too;
* a node whose parent is unknown is placed by its recorded **path** (folders made as needed, or
  the folders already there of that name); without one, or in a cycle, it goes to ``lost+found``;
* **two live nodes of one name** in one folder: the one with a record, else the one changed last,
  keeps the place; the other goes to ``lost+found`` as ``name (node N)``;
* a **name** no rule allows (NUL, a bidirectional override, ``/``) is repaired (``_``), and said;
* a level is never lowered: what leaves its folder keeps the level it had there.

Everything moved, repaired or left out is a line of the plan's ``problems`` (or, for what was
purged before the loss, its ``notes``): nothing is dropped without a word.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Iterable

from polaris.access.policy import Classification
from polaris.admin.recovery_model import (
    LOST_FOUND,
    RANK,
    Plan,
    PlannedNode,
    PlannedSpace,
    first,
    level_of,
    version_number,
    version_of,
)
from polaris.drive.names import repair_name, shown
from polaris.drive.recovery import RecoveredVersion as PlannedVersion
from polaris.storage.manifest import Manifest
from polaris.storage.placement import PlacedSpace, Placement

__all__ = ["LOST_FOUND", "Plan", "PlannedNode", "PlannedSpace", "plan_recovery"]


def plan_recovery(manifests: Iterable[Manifest], placements: Iterable[Placement]) -> Plan:
    planner = _Planner()
    for placement in placements:
        planner.add_record(placement)
    for manifest in manifests:
        planner.add_manifest(manifest)
    return planner.build()


class _Planner:
    def __init__(self) -> None:
        self.records: dict[int, Placement] = {}
        self.manifests: dict[int, list[Manifest]] = defaultdict(list)
        self.loose: list[Manifest] = []
        self.spaces: dict[int, PlannedSpace] = {}
        self.space_generation: dict[int, int] = {}
        self.nodes: dict[int, PlannedNode] = {}
        self.root_space: dict[int, int] = {}
        self.folders: dict[tuple[int, str], int] = {}  # live folders by (parent, name)
        self.lost: dict[int, int] = {}  # space id: its lost+found folder
        self.loose_space: int | None = None
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.generation = 0
        self.ids = itertools.count()

    def add_record(self, record: Placement) -> None:
        found = self.records.get(record.node_id)
        if found is not None and (found.generation, found.recorded_at) >= (
            record.generation,
            record.recorded_at,
        ):
            return
        self.records[record.node_id] = record
        self.generation = max(self.generation, record.generation)

    def add_manifest(self, manifest: Manifest) -> None:
        meta = manifest.metadata
        if isinstance(meta.node_id, int) and isinstance(meta.space_id, int):
            self.manifests[meta.node_id].append(manifest)
        else:
            self.loose.append(manifest)

    # Building

    def build(self) -> Plan:
        known = [*self.records, *self.manifests]
        for record in self.records.values():
            if record.space is not None:
                self._describe(record.space, record.generation)
                known.append(record.space.root_id)
        self.ids = itertools.count(max(known, default=0) + 1)
        for manifests in self.manifests.values():
            for manifest in manifests:
                self._space_of_manifest(manifest)
        for node_id in sorted(set(self.records) | set(self.manifests)):
            self._node(node_id)
        for manifest in self.loose:
            self._lost_file(manifest, "names no node or space")
        for allow_fallback in (False, True):
            for node in sorted(self.nodes.values(), key=lambda n: n.id):
                self._place(node, allow_fallback, set())
        self._settle_names()
        ordered = self._ordered()
        used = {node.space_id for node in ordered}
        for space_id in [s for s, space in self.spaces.items() if space.kind == "unknown"]:
            if space_id not in used:  # known only from a file's old manifest: it moved away
                del self.spaces[space_id]
        return Plan(self.spaces, ordered, self.problems, self.notes, self.generation)

    def _describe(self, space: PlacedSpace, generation: int) -> None:
        if self.space_generation.get(space.id, -1) > generation:
            return
        self.space_generation[space.id] = generation
        where = f"space {shown(space.name)} ({space.id})"
        self.spaces[space.id] = PlannedSpace(
            id=space.id,
            kind=space.kind,
            name=space.name,
            root_id=space.root_id,
            unit_id=space.unit_id,
            owner_id=space.owner_id,
            level=level_of(space.classification, self.problems, where),
            quota_bytes=space.quota_bytes,
        )
        self.root_space[space.root_id] = space.id

    def _space_of_manifest(self, manifest: Manifest) -> int:
        space_id = manifest.metadata.space_id
        assert isinstance(space_id, int)
        if space_id not in self.spaces:
            name = manifest.metadata.extra.get("space")
            root = next(self.ids)
            self.spaces[space_id] = PlannedSpace(
                id=space_id,
                kind="unknown",
                name=name if isinstance(name, str) and name else f"space {space_id}",
                root_id=root,
                unit_id=None,
                owner_id=None,
                level=0,
                quota_bytes=None,
            )
            self.root_space[root] = space_id
        return space_id

    def _loose_space(self) -> int:
        """A space for what names none (never written by Polaris; listed, not dropped)."""
        if self.loose_space is not None:
            return self.loose_space
        space_id = self.loose_space = max(self.spaces, default=0) + 1
        root = next(self.ids)
        self.spaces[space_id] = PlannedSpace(
            space_id, "unknown", LOST_FOUND, root, None, None, int(Classification.SECRET), None
        )
        self.root_space[root] = space_id
        return space_id

    def _node(self, node_id: int) -> None:
        record = self.records.get(node_id)
        manifests = sorted(self.manifests.get(node_id, []), key=lambda m: m.metadata.created_at)
        if record is not None and record.purged:
            gone = [m for m in manifests if m.metadata.created_at <= record.recorded_at]
            if gone:
                self.notes.append(
                    f"node {node_id}: purged before the loss; {len(gone)} version(s) left out"
                )
            manifests, record = manifests[len(gone) :], None
            if not manifests:
                return
        if record is not None:
            assert record.created_at is not None and record.space is not None
            earlier = [m for m in manifests if m.metadata.created_at < record.created_at]
            if earlier:
                self.notes.append(
                    f"node {node_id}: {len(earlier)} version(s) of an earlier node of this id "
                    "(purged) left out"
                )
                manifests = manifests[len(earlier) :]
            if record.kind == "folder":
                for manifest in manifests:
                    self._lost_file(manifest, "belongs to a node recorded as a folder")
                manifests = []
        versions = self._versions(node_id, manifests)
        newest = manifests[-1].metadata if manifests else None
        if record is None:
            assert newest is not None
            if not versions:
                return
            parent = newest.extra.get("parent_id")
            where = f"node {node_id} {shown(newest.name)}"
            node = PlannedNode(
                id=node_id,
                kind="file",
                name=self._name(newest.name, where),
                level=level_of(newest.classification, self.problems, where),
                created_at=versions[0].created_at,
                source="manifest",
                given_name=newest.name,
                wanted_parent=parent if isinstance(parent, int) else None,
                wanted_space=newest.space_id if isinstance(newest.space_id, int) else None,
                path=newest.path,
            )
        else:
            where = f"node {node_id} {shown(record.name or '')}"
            if record.kind == "file" and not versions:
                self.problems.append(f"{where}: a file without a readable version; not recovered")
                return
            assert record.name is not None and record.kind is not None
            assert record.space is not None and record.created_at is not None
            node = PlannedNode(
                id=node_id,
                kind=record.kind,
                name=self._name(record.name, where),
                level=level_of(record.classification, self.problems, where),
                created_at=record.created_at,
                source="record",
                wanted_parent=record.parent_id,
                wanted_space=record.space.id,
                path=record.path,
                trashed_at=record.trashed_at,
                last_seen=record.recorded_at,
            )
            floor = level_of(record.effective_classification, self.problems, where)
            if newest is not None:
                floor = max(floor, level_of(newest.classification, self.problems, where))
            node.floor = floor
        node.floor = max(node.floor, node.level)
        node.versions = versions
        if versions:
            node.last_seen = max(node.last_seen or versions[-1].created_at, versions[-1].created_at)
        self.nodes[node.id] = node

    def _versions(self, node_id: int, manifests: list[Manifest]) -> list[PlannedVersion]:
        by_number: dict[int, list[Manifest]] = defaultdict(list)
        unnumbered = []
        for manifest in manifests:
            number = version_number(manifest)
            if number is None:
                unnumbered.append(manifest)
            else:
                by_number[number].append(manifest)
        kept: list[tuple[int, Manifest]] = []
        for number, claims in sorted(by_number.items()):
            *older, newest = claims  # sorted by time already
            for manifest in older:
                self._lost_file(
                    manifest,
                    f"claims version {number} of node {node_id}, as a later manifest does (its "
                    "row was probably never committed)",
                )
            kept.append((number, newest))
        following = max(by_number, default=0) + 1
        for offset, manifest in enumerate(unnumbered):
            kept.append((following + offset, manifest))
        if unnumbered:
            self.problems.append(
                f"node {node_id}: {len(unnumbered)} manifest(s) without a version number; "
                f"numbered from {following} by their times"
            )
        return [version_of(number, manifest) for number, manifest in sorted(kept, key=first)]

    def _lost_file(self, manifest: Manifest, why: str) -> None:
        meta = manifest.metadata
        space_id = meta.space_id if isinstance(meta.space_id, int) else None
        version = version_number(manifest)
        label = f"node {meta.node_id}" + (f" version {version}" if version is not None else "")
        name, _ = repair_name(f"{meta.name} ({label})")
        where = f"manifest {manifest.manifest_id} ({shown(meta.path or meta.name)})"
        level = level_of(meta.classification, self.problems, where)
        node = PlannedNode(
            id=next(self.ids),
            kind="file",
            name=name,
            level=level,
            created_at=meta.created_at,
            source="lost",
            floor=level,
            versions=[version_of(1, manifest)],
            last_seen=meta.created_at,
        )
        self.nodes[node.id] = node
        self._to_lost_found(node, space_id, f"{where}: {why}")

    def _name(self, name: str, where: str) -> str:
        fixed, reason = repair_name(name)
        if reason is not None:
            self.problems.append(f"{where}: {reason}; recovered as {shown(fixed)}")
        return fixed

    # Placing

    def _place(self, node: PlannedNode, allow_fallback: bool, visiting: set[int]) -> bool:
        """Give ``node`` its parent and space; False while that needs a path (first pass)."""
        if node.space_id is not None:
            return True
        wanted = node.wanted_parent
        if wanted is not None and wanted in self.root_space:
            self._put(node, wanted, self.root_space[wanted])
            return True
        parent = self.nodes.get(wanted) if wanted is not None else None
        if parent is not None and parent.kind == "folder":
            if node.id in visiting or len(visiting) > 256:
                if not allow_fallback:
                    return False
                self._to_lost_found(node, node.wanted_space, self._where(node) + ": in a cycle of "
                                    "parents (records of different times)")  # fmt: skip
                return True
            if self._place(parent, allow_fallback, visiting | {node.id}):
                if node.space_id is None:  # not moved to lost+found by a cycle meanwhile
                    assert parent.space_id is not None
                    self._put(node, parent.id, parent.space_id)
                return True
            return False
        if not allow_fallback:
            return False
        self._by_path(node)
        return True

    def _by_path(self, node: PlannedNode) -> None:
        space_id = node.wanted_space
        if space_id is None or space_id not in self.spaces or not node.path:
            self._to_lost_found(node, space_id, f"{self._where(node)}: its folder is unknown")
            return
        parent = self.spaces[space_id].root_id
        for part in [p for p in node.path.split("/") if p][:-1]:
            name, _ = repair_name(part)
            found = self.folders.get((parent, name))
            if found is None:
                made = PlannedNode(next(self.ids), "folder", name, 0, node.created_at, "made")
                self.nodes[made.id] = made
                self._put(made, parent, space_id)
                found = made.id
            parent = found
        self._put(node, parent, space_id)

    def _put(self, node: PlannedNode, parent_id: int, space_id: int) -> None:
        node.parent_id, node.space_id = parent_id, space_id
        if node.kind == "folder" and node.trashed_at is None:
            self.folders.setdefault((parent_id, node.name), node.id)

    def _to_lost_found(self, node: PlannedNode, space_id: int | None, why: str) -> None:
        if space_id is None or space_id not in self.spaces:
            space_id = self._loose_space()
        folder = self.lost.get(space_id)
        if folder is None:
            root = self.spaces[space_id].root_id
            made = PlannedNode(next(self.ids), "folder", LOST_FOUND, 0, node.created_at, "lost")
            made.parent_id, made.space_id = root, space_id
            self.nodes[made.id] = made
            folder = self.lost[space_id] = made.id
        node.level = max(node.level, node.floor)  # the level it had where it was
        node.source = "lost"
        node.parent_id, node.space_id = folder, space_id
        self.problems.append(f"{why}; recovered in {LOST_FOUND}")

    def _where(self, node: PlannedNode) -> str:
        space = self.spaces.get(node.wanted_space or 0)
        place = f"space {shown(space.name)} ({space.id}) " if space is not None else ""
        return f"{place}{shown(node.path or node.name)} (node {node.id})"

    # Names

    def _settle_names(self) -> None:
        """One live node per name in a folder: the others go to lost+found; then every name in a
        lost+found folder (and each lost+found beside its siblings) is made unique."""
        moved = True
        while moved:
            moved = False
            groups: dict[tuple[int, str], list[PlannedNode]] = defaultdict(list)
            for node in self.nodes.values():
                if node.trashed_at is None and node.source != "lost" and node.parent_id:
                    groups[(node.parent_id, node.name)].append(node)
            for (_, name), claims in sorted(groups.items(), key=first):
                if len(claims) < 2:
                    continue
                winner = max(claims, key=lambda n: (RANK[n.source], n.last_seen or n.created_at,
                                                    n.id))  # fmt: skip
                for loser in claims:
                    if loser is winner:
                        continue
                    if loser.source == "made" and winner.kind == "folder":
                        self._merge(loser, winner)
                    else:
                        loser.floor = max(loser.floor, self._effective(loser))
                        self._to_lost_found(
                            loser,
                            loser.space_id,
                            f"{self._where(loser)}: {shown(name)} is also the name of node "
                            f"{winner.id} in the same folder",
                        )
                    moved = True
        taken: dict[int, set[str]] = defaultdict(set)
        for node in sorted(self.nodes.values(), key=lambda n: (n.source == "lost", n.id)):
            if node.parent_id is None or (node.trashed_at is not None and node.source != "lost"):
                continue
            name, number = node.name, 1
            while name in taken[node.parent_id]:
                number += 1
                name, _ = repair_name(f"{node.name} ({number})")
            node.name = name
            taken[node.parent_id].add(name)

    def _merge(self, made: PlannedNode, into: PlannedNode) -> None:
        """A folder made for a path that turns out to be there already: its contents move in."""
        for node in self.nodes.values():
            if node.parent_id == made.id:
                node.parent_id = into.id
        del self.nodes[made.id]

    def _effective(self, node: PlannedNode) -> int:
        level, seen, current = node.level, set(), node.parent_id
        while current is not None and current in self.nodes and current not in seen:
            seen.add(current)
            level = max(level, self.nodes[current].level)
            current = self.nodes[current].parent_id
        space = self.spaces.get(node.space_id or 0)
        return max(level, space.level if space is not None else 0)

    def _ordered(self) -> list[PlannedNode]:
        children: dict[int, list[PlannedNode]] = defaultdict(list)
        for node in self.nodes.values():
            assert node.parent_id is not None
            children[node.parent_id].append(node)
        ordered: list[PlannedNode] = []
        queue = deque(sorted(space.root_id for space in self.spaces.values()))
        while queue:
            parent = queue.popleft()
            for child in sorted(children.get(parent, []), key=lambda n: n.id):
                ordered.append(child)
                queue.append(child.id)
        if len(ordered) < len(self.nodes):  # a cycle no rule above broke: never dropped
            reached = {node.id for node in ordered}
            stray = min(node_id for node_id in self.nodes if node_id not in reached)
            node = self.nodes[stray]
            self._to_lost_found(node, node.space_id, f"{self._where(node)}: in a cycle")
            return self._ordered()
        return ordered
