"""A node's ETag and modification time as each clearance sees them.

A folder's ETag changes when anything below it changes (sync clients depend on that), but a
change the caller cannot see must not move it: a constable watching a folder's ETag would learn
that something Secret was added. The only thing that hides a live child inside a folder the caller
may read is its classification (the unit rule and ownership cover a whole space; shares reach
everything below the shared node, so they only ever widen), so a node keeps one stamp per level:
``etag_<level>`` and ``modified_at_<level>``, the plain ``etag`` and ``modified_at`` being the
Secret level's (everything). A change to a node of effective level ``c`` renews the stamps of
levels ``c`` and above on the node and its ancestors; a caller sees the stamps of their clearance.

For a file, every level it is visible at carries the same stamp (a file only ever changes at its
own level or below it), so ``etag`` is the file's ETag for everyone who may read it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from polaris.access.policy import Classification
from polaris.drive.fields import NodeFields
from polaris.drive.models import Node

#: Column names by level, lowest first; the last are the plain ``etag`` and ``modified_at``.
ETAG_FIELDS = ("etag_unclassified", "etag_restricted", "etag_confidential", "etag")
MODIFIED_FIELDS = (
    "modified_at_unclassified",
    "modified_at_restricted",
    "modified_at_confidential",
    "modified_at",
)
assert len(ETAG_FIELDS) == len(MODIFIED_FIELDS) == len(Classification)


def etag_seen(node: NodeFields, clearance: int) -> str:
    """The ETag of ``node`` for a caller of ``clearance``."""
    return str(getattr(node, ETAG_FIELDS[clearance]))


def modified_seen(node: NodeFields, clearance: int) -> dt.datetime:
    value: dt.datetime = getattr(node, MODIFIED_FIELDS[clearance])
    return value


def modified_column(clearance: int) -> Any:
    """The column to sort a listing by modification time for a caller of ``clearance``."""
    return getattr(Node, MODIFIED_FIELDS[clearance])


def renewed(level: int, etag: str, now: dt.datetime | None) -> dict[str, Any]:
    """Column values that renew the stamps of ``level`` and above (all levels for a new node)."""
    values: dict[str, Any] = dict.fromkeys(ETAG_FIELDS[level:], etag)
    if now is not None:
        values.update(dict.fromkeys(MODIFIED_FIELDS[level:], now))
    return values


def set_client_mtime(node: Node, when: dt.datetime) -> None:
    """Give a file the modification time its uploader's device has for it (WebDAV's
    ``X-OC-Mtime``, which sync clients send so that every device shows the same time). Only the
    file's own times change; its ETag and its folders' stamps moved with the upload itself."""
    for name in MODIFIED_FIELDS:
        setattr(node, name, when)
