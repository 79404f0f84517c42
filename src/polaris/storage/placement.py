"""Placement records: where a node is now, kept in the store beside the manifests.

A manifest says where a file was when one version of it was written; it is immutable and
content-addressed, so a later rename, move or delete cannot change it. A placement record is the
small object written after such a change (docs/storage-format.md §8a): the node's name, parent,
space, own classification and trash mark as the database had them at a known point of the change
stream (the *generation*). The newest record of each node, with the manifests, rebuilds the tree
when the database is lost for good (``polaris recover``).

The plaintext is canonical JSON, like a manifest's, so an operator can read one with the key and a
few lines of code; it carries its own format number, which readers check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from polaris.storage.crypto import SealError

PLACEMENT_FORMAT = 1
#: A record is a few hundred bytes; the cap keeps a planted huge object from being read whole.
MAX_PLACEMENT_SIZE = 64 * 1024
NODE_KINDS = frozenset({"file", "folder"})
_FIELDS = frozenset(
    {
        "format",
        "node_id",
        "generation",
        "recorded_at",
        "purged",
        "kind",
        "name",
        "parent_id",
        "path",
        "space",
        "classification",
        "effective_classification",
        "created_at",
        "trashed_at",
        "extra",
    }
)
#: Set on a live record, null on a purged one (a tombstone says only that the node is gone).
_PLACE_FIELDS = ("kind", "name", "space", "created_at")
_SPACE_FIELDS = frozenset(
    {"id", "kind", "name", "root_id", "unit_id", "owner_id", "classification", "quota_bytes"}
)


@dataclass(frozen=True)
class PlacedSpace:
    """The space a node is in, as far as a recovery needs it (ids are the lost database's)."""

    id: int
    kind: str
    name: str
    root_id: int
    unit_id: int | None = None
    owner_id: int | None = None
    classification: str | None = None
    quota_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> PlacedSpace:
        if not isinstance(data, dict) or set(data) != _SPACE_FIELDS:
            raise ValueError(f"space fields are not {sorted(_SPACE_FIELDS)}")
        return cls(
            id=_id(data["id"]),
            kind=_text(data["kind"]),
            name=_text(data["name"]),
            root_id=_id(data["root_id"]),
            unit_id=_optional_id(data["unit_id"]),
            owner_id=_optional_id(data["owner_id"]),
            classification=_optional_text(data["classification"]),
            quota_bytes=_optional_count(data["quota_bytes"]),
        )


@dataclass(frozen=True)
class Placement:
    """One node's place at ``generation`` (a position of the change stream), written at
    ``recorded_at`` (UTC, whole microseconds: the record's name carries it).

    ``trashed_at`` is set on the node that was deleted, not on what went with it (as in the
    database). A ``purged`` record (a tombstone) has no place: the node is gone for good.
    """

    node_id: int
    generation: int
    recorded_at: datetime
    purged: bool = False
    kind: str | None = None
    name: str | None = None
    parent_id: int | None = None
    path: str | None = None
    space: PlacedSpace | None = None
    classification: str | None = None
    #: The highest level on the node's path when recorded: a recovery that cannot rebuild the
    #: path (a parent's record is missing) keeps the node at this level, never lower.
    effective_classification: str | None = None
    created_at: datetime | None = None
    trashed_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        _id(self.node_id)
        if isinstance(self.generation, bool) or not 0 <= self.generation < 2**64:
            raise ValueError(f"invalid generation {self.generation!r}")
        for moment in (self.recorded_at, self.created_at, self.trashed_at):
            if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
                raise ValueError("placement times must be timezone-aware")
        if self.purged:
            if any(getattr(self, name) is not None for name in (*_PLACE_FIELDS, "parent_id")):
                raise ValueError("a purged node's record has no place")
        elif any(getattr(self, name) is None for name in _PLACE_FIELDS):
            raise ValueError(f"a live node's record needs {', '.join(_PLACE_FIELDS)}")
        elif self.kind not in NODE_KINDS:
            raise ValueError(f"node kind {self.kind!r} is not file or folder")

    @property
    def recorded_us(self) -> int:
        """``recorded_at`` in microseconds since the epoch (the record's name holds it)."""
        delta = self.recorded_at - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def same_place(self, other: Placement) -> bool:
        """Whether two records say the same thing, whatever their generation and time."""
        return encode_placement(self, stamp=False) == encode_placement(other, stamp=False)


def encode_placement(placement: Placement, *, stamp: bool = True) -> bytes:
    """The canonical plaintext (``stamp=False``: without generation and time, to compare)."""
    document: dict[str, Any] = {
        "format": PLACEMENT_FORMAT,
        "node_id": placement.node_id,
        "generation": placement.generation,
        "recorded_at": _time(placement.recorded_at),
        "purged": placement.purged,
        "kind": placement.kind,
        "name": placement.name,
        "parent_id": placement.parent_id,
        "path": placement.path,
        "space": None if placement.space is None else placement.space.to_dict(),
        "classification": placement.classification,
        "effective_classification": placement.effective_classification,
        "created_at": _time(placement.created_at),
        "trashed_at": _time(placement.trashed_at),
        "extra": dict(placement.extra),
    }
    if not stamp:
        del document["generation"], document["recorded_at"]
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"placement extra is not JSON-serialisable: {exc}") from None
    plaintext = text.encode("utf-8")
    if len(plaintext) > MAX_PLACEMENT_SIZE:
        raise ValueError(f"placement of {len(plaintext)} bytes exceeds {MAX_PLACEMENT_SIZE}")
    return plaintext


def decode_placement(plaintext: bytes) -> Placement:
    """Parse an authenticated plaintext; SealError naming what is malformed."""
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SealError("placement is not valid UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise SealError("placement is not a JSON object")
    if document.get("format") != PLACEMENT_FORMAT:
        raise SealError(
            f"unsupported placement format {document.get('format')!r} (this reader knows 1)"
        )
    if set(document) != _FIELDS:
        raise SealError(f"malformed placement: fields {sorted(document)} are not {sorted(_FIELDS)}")
    try:
        if not isinstance(document["purged"], bool) or not isinstance(document["extra"], dict):
            raise ValueError("purged or extra has the wrong type")
        space = document["space"]
        return Placement(
            node_id=_id(document["node_id"]),
            generation=_count(document["generation"]),
            recorded_at=_parse_time(document["recorded_at"]),
            purged=document["purged"],
            kind=_optional_text(document["kind"]),
            name=_optional_text(document["name"]),
            parent_id=_optional_id(document["parent_id"]),
            path=_optional_text(document["path"]),
            space=None if space is None else PlacedSpace.from_dict(space),
            classification=_optional_text(document["classification"]),
            effective_classification=_optional_text(document["effective_classification"]),
            created_at=_optional_time(document["created_at"]),
            trashed_at=_optional_time(document["trashed_at"]),
            extra=MappingProxyType(document["extra"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SealError(f"malformed placement: {exc}") from None


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone")
    return moment


def _optional_time(value: Any) -> datetime | None:
    return None if value is None else _parse_time(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def _optional_count(value: Any) -> int | None:
    return None if value is None else _count(value)


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected an id (a positive integer), got {value!r}")
    return value


def _optional_id(value: Any) -> int | None:
    return None if value is None else _id(value)
