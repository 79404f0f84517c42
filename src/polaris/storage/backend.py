"""The backend seam: where sealed objects live (a local directory, or an S3 bucket).

A backend stores named, immutable byte strings. It knows nothing of keys, chunks or manifests and
never sees plaintext. There is no overwrite, and only garbage collection (``polaris.storage.gc``)
removes objects, through :meth:`Backend.remove_unless_reused`: no other code calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from polaris.errors import IntegrityError, NotFound


class ObjectNotFound(NotFound):
    """No object under that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"object {name} not found", object_name=name)
        self.object_name = name


class ObjectTooLargeError(IntegrityError):
    """The object is larger than any object of its kind can be (planted or damaged)."""

    def __init__(self, name: str, size: int, limit: int) -> None:
        super().__init__(f"object {name} is {size} bytes, over the limit of {limit}")
        self.object_name = name
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class ObjectInfo:
    """An object as listed for garbage collection: its name, stored size and the time (POSIX
    seconds) it was last written or reused (see :meth:`Backend.touch`)."""

    name: str
    size: int
    modified_at: float


class Backend(Protocol):
    """Atomic, write-once object storage.

    Names are validated by :func:`polaris.storage.names.check_object_name`. Errors:
    ``ObjectNotFound``, ``StorageFull`` (ENOSPC, quota), ``StorageFailure`` (any other I/O
    failure, failed fsync).
    """

    def put(self, name: str, data: bytes) -> bool:
        """Store ``data`` under ``name`` atomically and durably; False if ``name`` already exists.

        An existing object is never replaced. When this returns True the object is durable; when it
        raises, nothing is visible under ``name``.
        """
        ...

    def get(self, name: str, *, max_size: int | None = None) -> bytes:
        """The whole object; ``ObjectTooLargeError`` if larger than ``max_size``."""
        ...

    def get_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the object, cut short at its end (like an HTTP Range)."""
        ...

    def exists(self, name: str) -> bool: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Names starting with ``prefix``, in lexicographic order."""
        ...

    def scan(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Like :meth:`list`, with each object's size and modification time."""
        ...

    def touch(self, name: str) -> bool:
        """Record that a writer reuses ``name`` (dedup) by setting its modification time to now;
        False if there is no such object (the writer then stores it).

        Garbage collection never removes an object modified within its grace period, so an object
        a writer has just relied on survives until the row that references it is committed.
        """
        ...

    def remove_unless_reused(self, name: str, cutoff: float) -> bool:
        """Remove ``name`` unless it was modified after ``cutoff`` (POSIX seconds); True if removed.

        For garbage collection only. MUST be atomic against :meth:`touch`: a writer's touch either
        happens first (then the object is kept) or fails because the object is gone (then the
        writer stores it again). The S3 backend cannot be fully (docs/storage-format.md §10a).
        """
        ...
