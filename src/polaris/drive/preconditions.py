"""Conditional requests: whether an ``If-Match`` / ``If-None-Match`` header names a node's ETag,
as the caller's clearance lets them see it (``drive.stamps``)."""

from __future__ import annotations

from polaris.drive import stamps
from polaris.drive._locate import Located
from polaris.errors import PreconditionFailed


def etag_listed(header: str, etag: str) -> bool:
    """Whether an ``If-Match`` / ``If-None-Match`` value (tags, quoted or not, or ``*``) names
    ``etag``."""
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")}
    return "*" in tags or etag in tags


def check_if_match(located: Located, if_match: str | None, clearance: int) -> None:
    """412 unless ``if_match`` (an ETag, quotes optional, or ``*``) names the node's current one,
    as a caller of ``clearance`` sees it."""
    if if_match is not None and not etag_listed(
        if_match, stamps.etag_seen(located.node, clearance)
    ):
        raise PreconditionFailed("the node changed since you read it", code="etag_mismatch")
