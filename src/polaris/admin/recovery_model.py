"""What a recovery plan is made of (``admin.recovery_plan`` builds it, ``admin.recovery`` inserts
it): planned spaces, nodes and versions, and the small rules they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from polaris.access.policy import Classification
from polaris.drive.names import shown
from polaris.drive.recovery import RecoveredVersion as PlannedVersion
from polaris.storage.manifest import Manifest

LOST_FOUND = "lost+found"
LEVELS = {level.name.lower(): int(level) for level in Classification}
#: What wins a name: a node with a record over one placed by a manifest over a folder made for a
#: path; ``lost`` (lost+found and what is in it) never competes.
RANK = {"record": 3, "manifest": 2, "made": 1, "lost": 0}


@dataclass
class PlannedNode:
    """A node to insert. ``id`` is the lost database's where known, else a new one above all."""

    id: int
    kind: str
    name: str
    level: int
    created_at: datetime
    source: str
    wanted_parent: int | None = None
    wanted_space: int | None = None
    path: str | None = None
    #: The level the node had where it was (a floor when it cannot go back there).
    floor: int = 0
    trashed_at: datetime | None = None
    versions: list[PlannedVersion] = field(default_factory=list)
    last_seen: datetime | None = None
    parent_id: int | None = None
    space_id: int | None = None
    #: The name in the record or manifest, before any repair.
    given_name: str | None = None

    @property
    def placed_by_manifest(self) -> bool:
        """Whether the newest manifest alone puts it here, as it is: then it needs no placement
        record for a later recovery to find it again (every other node gets one)."""
        return (
            self.source == "manifest"
            and self.parent_id == self.wanted_parent
            and self.name == self.given_name
        )


@dataclass
class PlannedSpace:
    id: int
    kind: str
    name: str
    root_id: int
    unit_id: int | None
    owner_id: int | None
    level: int
    quota_bytes: int | None


@dataclass
class Plan:
    spaces: dict[int, PlannedSpace]
    #: Parents before children.
    nodes: list[PlannedNode]
    problems: list[str]
    notes: list[str]
    #: The highest generation of any placement record read (the new stream continues after it).
    generation: int

    @property
    def versions(self) -> int:
        return sum(len(node.versions) for node in self.nodes)


def level_of(name: str | None, problems: list[str], where: str) -> int:
    if name is None:
        return 0
    if name in LEVELS:
        return LEVELS[name]
    problems.append(f"{where}: unknown classification {shown(name)}; recovered as secret")
    return int(Classification.SECRET)


def first(pair: tuple[object, object]) -> Any:
    return pair[0]


def version_of(number: int, manifest: Manifest) -> PlannedVersion:
    meta = manifest.metadata
    return PlannedVersion(
        number, manifest.manifest_id, manifest.content, meta.content_type, meta.created_at
    )


def version_number(manifest: Manifest) -> int | None:
    meta = manifest.metadata
    number = meta.extra.get("version")
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return number
    if isinstance(meta.version_id, str) and meta.version_id.startswith(f"{meta.node_id}."):
        tail = meta.version_id.rsplit(".", 1)[1]
        if tail.isdigit() and int(tail) > 0:
            return int(tail)
    return None
