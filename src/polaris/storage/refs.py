"""References to stored content: what a database row or a manifest keeps to find a file's bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from polaris.storage.names import check_id

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_CHUNK_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ChunkRef:
    """One chunk of a file: its id and its plaintext size in bytes (1..4 MiB)."""

    chunk_id: str
    size: int

    def __post_init__(self) -> None:
        check_id(self.chunk_id, "chunk id")
        if not isinstance(self.size, int) or not 0 < self.size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk {self.chunk_id}: invalid size {self.size!r}")


@dataclass(frozen=True)
class ContentRef:
    """A file's content: its chunks in order, total size and SHA-256 (hex) of the plaintext."""

    chunks: tuple[ChunkRef, ...]
    size: int
    sha256: str

    def __post_init__(self) -> None:
        if sum(chunk.size for chunk in self.chunks) != self.size:
            raise ValueError(f"content size {self.size} is not the sum of its chunk sizes")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"invalid sha256 {self.sha256!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the one manifests use)."""
        return {
            "size": self.size,
            "sha256": self.sha256,
            "chunks": [[chunk.chunk_id, chunk.size] for chunk in self.chunks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContentRef:
        """Inverse of :meth:`to_dict`; ValueError if the shape is wrong."""
        try:
            chunks = tuple(ChunkRef(str(cid), size) for cid, size in data["chunks"])
            size, sha256 = data["size"], data["sha256"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed content reference: {exc}") from None
        if not isinstance(size, int) or not isinstance(sha256, str):
            raise ValueError("malformed content reference: size or sha256 has the wrong type")
        return cls(chunks=chunks, size=size, sha256=sha256)
