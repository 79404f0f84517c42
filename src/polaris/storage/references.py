"""What outside the store needs stored content: the seam between the store and the database.

The store knows no domain (DESIGN §3): it cannot ask which file versions, previews or uploads
exist. Whoever runs a cross-check or garbage collection supplies a :class:`ReferenceSource`
instead; the domains build theirs (``polaris.drive.stored``, ``polaris.ingest.stored``) and the
command or job that runs the check combines them (:class:`CombinedReferences`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from polaris.storage.refs import ChunkRef


@dataclass(frozen=True)
class Reference:
    """One holder of stored content: a file version, a preview, an upload in progress.

    ``key`` is the source's own name for the holder (``version:12``), handed back to
    :meth:`ReferenceSource.describe` to name a file a missing object breaks; it is unique across
    all sources. ``manifest_id`` with ``size`` and ``sha256`` are given when the holder has a
    manifest (a file version); content without one (a preview, a partial upload) has chunks only.
    """

    key: str
    chunks: tuple[ChunkRef, ...]
    manifest_id: str | None = None
    size: int | None = None
    sha256: str | None = None


class ReferenceSource(Protocol):
    """Every holder of stored content, streamed (millions of versions need bounded memory)."""

    def count(self) -> int:
        """How many references :meth:`references` will yield (for progress; may be approximate)."""
        ...

    def references(self) -> Iterator[Reference]:
        """Every reference, each once, read from one consistent snapshot."""
        ...

    def describe(self, keys: Collection[str]) -> Mapping[str, str]:
        """A person-readable name for each key (space, path, version), e.g. for a report."""
        ...


class CombinedReferences:
    """Several sources as one, in the given order."""

    def __init__(self, sources: Sequence[ReferenceSource]) -> None:
        self.sources = list(sources)

    def count(self) -> int:
        return sum(source.count() for source in self.sources)

    def references(self) -> Iterator[Reference]:
        for source in self.sources:
            yield from source.references()

    def describe(self, keys: Collection[str]) -> Mapping[str, str]:
        described: dict[str, str] = {}
        for source in self.sources:
            described.update(source.describe(keys))
        return described
