"""Request and response models of the drive API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from polaris.access.policy import Actor, Classification
from polaris.drive._locate import LocatedView, Permissions, allowed_actions
from polaris.drive.changes import Change, ChangesPage
from polaris.drive.fields import SpaceFields
from polaris.drive.models import FILE, FileVersion, Node, Share
from polaris.drive.spaces import usage_visible
from polaris.drive.stamps import etag_seen, modified_seen
from polaris.web.params import MAX_INT64, Id, UtcDatetime

ClassificationName = Literal["unclassified", "restricted", "confidential", "secret"]


#: Level to name, built once: a folder page names the level of every child.
_NAMES: dict[int, ClassificationName] = {
    int(level): level.name.lower()  # type: ignore[misc]
    for level in Classification
}


def classification_name(level: int) -> ClassificationName:
    return _NAMES[int(level)]


def classification_level(name: ClassificationName) -> Classification:
    return Classification[name.upper()]


class SpaceRead(BaseModel):
    id: int
    kind: str
    name: str
    #: A unit space's unit's Hindi name, where it has one (the sidebar; the API leaves it out).
    name_hi: str | None = Field(default=None, exclude=True)
    unit_id: int | None
    owner_id: int | None
    root_id: int
    classification: ClassificationName
    quota_bytes: int | None = Field(
        description="null for no limit, and for a caller who may not see the whole space"
    )
    used_bytes: int | None = Field(
        description="null for a caller who may not see the whole space (it would count what is "
        "hidden from them)"
    )

    @classmethod
    def of(cls, space: SpaceFields, actor: Actor) -> SpaceRead:
        assert space.root_id is not None
        shown = usage_visible(actor, space)
        return cls(
            id=space.id,
            kind=space.kind,
            name=space.name,
            unit_id=space.unit_id,
            owner_id=space.owner_id,
            root_id=space.root_id,
            classification=classification_name(space.classification),
            quota_bytes=space.quota_bytes if shown else None,
            used_bytes=space.used_bytes if shown else None,
        )


class NodeRead(BaseModel):
    id: int
    space_id: int
    parent_id: int | None
    kind: Literal["folder", "file"]
    name: str
    path: str = Field(description="Names from the space's root, e.g. /Cases/FIR 12-2026.pdf")
    size: int | None = Field(description="Bytes of the current version; null for a folder")
    sha256: str | None
    content_type: str | None
    version: int | None = None
    classification: ClassificationName
    etag: str
    created_at: dt.datetime
    modified_at: dt.datetime
    trashed_at: dt.datetime | None = None
    permissions: list[str] = Field(description="What the caller may do: read, write, delete...")

    @classmethod
    def of(
        cls,
        located: LocatedView,
        actor: Actor,
        *,
        version_number: int | None = None,
        permissions: Permissions | None = None,
    ) -> NodeRead:
        """``permissions``: shared by the nodes of one answer, so that each distinct case is
        decided once (``_locate.Permissions``)."""
        node = located.node
        is_file = node.kind == FILE
        level = int(located.classification)
        return cls(
            id=node.id,
            space_id=node.space_id,
            parent_id=node.parent_id,
            kind="file" if is_file else "folder",
            name=node.name,
            path=located.display_path,
            size=node.size if is_file else None,
            sha256=node.sha256,
            content_type=node.content_type,
            version=version_number,
            classification=classification_name(level),
            etag=etag_seen(node, actor.clearance),
            created_at=node.created_at,
            modified_at=modified_seen(node, actor.clearance),
            trashed_at=node.trashed_at,
            permissions=(
                allowed_actions(actor, located)
                if permissions is None
                else permissions.of(located, level)
            ),
        )


class NodePage(BaseModel):
    folder: NodeRead
    items: list[NodeRead]
    next_cursor: str | None


class FolderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=1024)
    classification: ClassificationName | None = None
    exist_ok: bool = Field(
        default=False, description="If a folder of this name exists, answer with it (200)."
    )


class NodeUpdate(BaseModel):
    """Rename (``name``), move (``parent_id``) and/or reclassify in one request."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=1024)
    parent_id: Id | None = None
    classification: ClassificationName | None = None


class NodeCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent_id: Id
    name: str | None = Field(default=None, min_length=1, max_length=1024)


class NodeRestore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent_id: Id | None = None
    name: str | None = Field(default=None, min_length=1, max_length=1024)


class VersionRead(BaseModel):
    id: int
    number: int
    size: int
    sha256: str
    content_type: str | None
    created_at: dt.datetime
    created_by: int | None
    restored_from: int | None

    @classmethod
    def of(cls, version: FileVersion) -> VersionRead:
        return cls(
            id=version.id,
            number=version.number,
            size=version.size,
            sha256=version.sha256,
            content_type=version.content_type,
            created_at=version.created_at,
            created_by=version.created_by,
            restored_from=version.restored_from,
        )


class ShareCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_type: Literal["user", "unit", "group"]
    subject_id: Id
    permission: Literal["read", "edit", "manage"] = "read"
    include_subunits: bool = False
    expires_at: UtcDatetime | None = Field(default=None, description="With a time zone")


class ShareRead(BaseModel):
    id: int
    node_id: int
    subject_type: str
    subject_id: int
    permission: str
    include_subunits: bool
    expires_at: dt.datetime | None
    created_by: int
    created_at: dt.datetime

    @classmethod
    def of(cls, share: Share) -> ShareRead:
        return cls(
            id=share.id,
            node_id=share.node_id,
            subject_type=share.subject_type,
            subject_id=share.subject_id,
            permission=share.permission,
            include_subunits=share.include_subunits,
            expires_at=share.expires_at,
            created_by=share.created_by,
            created_at=share.created_at,
        )


class SharedNodeRead(BaseModel):
    share: ShareRead
    node: NodeRead


class QuotaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quota_bytes: int | None = Field(default=None, ge=0, le=MAX_INT64)


class ChangeRead(BaseModel):
    """A node that changed: its state now, or ``gone`` (every other field is then null)."""

    node_id: int
    change: Literal["changed", "gone"] = Field(
        description="changed: the fields say the node's state now; gone: you may no longer see "
        "it (nor what is below it): moved out of your sight, deleted, reclassified above your "
        "clearance, or a share of yours ended. Why is not said."
    )
    events: list[str] = Field(
        description="The kinds of this page's changes to it, in order (node.created, "
        "node.renamed, node.moved, version.added, share.granted...); empty when gone"
    )
    space_id: int | None
    parent_id: int | None
    kind: Literal["folder", "file"] | None
    name: str | None
    etag: str | None = Field(description="As GET /nodes/{id} gives it to you")

    @classmethod
    def of(cls, change: Change, actor: Actor) -> ChangeRead:
        node: Node | None = change.node
        if change.gone or node is None:
            return cls(
                node_id=change.node_id,
                change="gone",
                events=[],
                space_id=None,
                parent_id=None,
                kind=None,
                name=None,
                etag=None,
            )
        return cls(
            node_id=node.id,
            change="changed",
            events=list(change.kinds),
            space_id=node.space_id,
            parent_id=node.parent_id,
            kind="file" if node.kind == FILE else "folder",
            name=node.name,
            etag=etag_seen(node, actor.clearance),
        )


class ChangeFeed(BaseModel):
    changes: list[ChangeRead]
    next_position: int = Field(
        description="Ask from here next (since=): the last position this page looked at, even "
        "when none of what it looked at concerns you"
    )
    more: bool = Field(description="More changes are waiting: ask again at once")
    relist: bool = Field(
        description="What you may see changed as a whole (your unit, role, clearance or "
        "groups): list what you mirror again, then follow from next_position"
    )

    @classmethod
    def of(cls, page: ChangesPage, actor: Actor) -> ChangeFeed:
        return cls(
            changes=[ChangeRead.of(change, actor) for change in page.changes],
            next_position=page.next_position,
            more=page.more,
            relist=page.relist,
        )
