"""Manifests: one per file version, enough to rebuild the file and its place without the database.

The plaintext is canonical JSON (UTF-8, sorted keys, no insignificant whitespace), so the same
version always gives the same bytes and therefore the same manifest id. Chosen over a binary layout
because a manifest is small next to its content and an operator recovering a disaster can read it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from polaris.storage.crypto import SealError
from polaris.storage.refs import ContentRef

MANIFEST_FORMAT = 1
MAX_MANIFEST_SIZE = 64 * 1024 * 1024
_META_FIELDS = (
    "path",
    "name",
    "space_id",
    "node_id",
    "version_id",
    "created_at",
    "content_type",
    "classification",
    "extra",
)

Identifier = str | int


@dataclass(frozen=True)
class FileMetadata:
    """What the caller knows about a file version, kept in its manifest for recovery.

    ``created_at`` must be timezone-aware (stored in UTC); ``extra`` must be JSON-serialisable.
    Strings are stored as given: normalise names to NFC before calling.
    """

    name: str
    created_at: datetime
    path: str | None = None
    space_id: Identifier | None = None
    node_id: Identifier | None = None
    version_id: Identifier | None = None
    content_type: str | None = None
    classification: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "space_id": self.space_id,
            "node_id": self.node_id,
            "version_id": self.version_id,
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "content_type": self.content_type,
            "classification": self.classification,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileMetadata:
        if set(data) != set(_META_FIELDS):
            raise ValueError(f"metadata fields {sorted(data)} are not {sorted(_META_FIELDS)}")
        if not isinstance(data["extra"], dict) or not isinstance(data["name"], str):
            raise ValueError("metadata name or extra has the wrong type")
        return cls(
            name=data["name"],
            created_at=datetime.fromisoformat(data["created_at"]),
            path=_optional(data["path"], str),
            space_id=_identifier(data["space_id"]),
            node_id=_identifier(data["node_id"]),
            version_id=_identifier(data["version_id"]),
            content_type=_optional(data["content_type"], str),
            classification=_optional(data["classification"], str),
            extra=MappingProxyType(data["extra"]),
        )


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    content: ContentRef
    metadata: FileMetadata


def encode_manifest(content: ContentRef, metadata: FileMetadata) -> bytes:
    """The canonical plaintext; ValueError if ``extra`` is not JSON or the result is too large."""
    document = {"format": MANIFEST_FORMAT, **content.to_dict(), "metadata": metadata.to_dict()}
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"manifest metadata is not JSON-serialisable: {exc}") from None
    plaintext = text.encode("utf-8")
    if len(plaintext) > MAX_MANIFEST_SIZE:
        raise ValueError(f"manifest of {len(plaintext)} bytes exceeds {MAX_MANIFEST_SIZE}")
    return plaintext


def decode_manifest(manifest_id: str, plaintext: bytes) -> Manifest:
    """Parse an authenticated plaintext; SealError naming what is malformed."""
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SealError("manifest is not valid UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise SealError("manifest is not a JSON object")
    if document.get("format") != MANIFEST_FORMAT:
        raise SealError(f"unsupported manifest format {document.get('format')!r} (reader knows 1)")
    try:
        content = ContentRef.from_dict(document)
        metadata = FileMetadata.from_dict(document["metadata"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SealError(f"malformed manifest: {exc}") from None
    return Manifest(manifest_id=manifest_id, content=content, metadata=metadata)


def _optional(value: Any, kind: type[str]) -> str | None:
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"expected a string or null, got {value!r}")
    return value


def _identifier(value: Any) -> Identifier | None:
    if value is None or (isinstance(value, str | int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"expected an id (string or integer) or null, got {value!r}")
