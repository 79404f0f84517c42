"""What a PROPFIND of a folder reads (``dav.listing_repo``), shaped for the answer
(``dav.fast_propfind``): the shares on the children by child, the dead properties by node and
name, the checksums as ``oc:checksums`` writes them, and the listed resource itself as a child's
row.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy.orm import Session

from polaris.dav import listing_repo
from polaris.dav.listing_repo import Child
from polaris.drive import stamps
from polaris.drive.models import Node, Share


def shares_by_child(session: Session, folder_id: int, now: dt.datetime) -> dict[int, list[Share]]:
    """Live shares on the folder's live children, by node, in id order (as ``shares_on``)."""
    found: dict[int, list[Share]] = {}
    for share in listing_repo.shares_on_children(session, folder_id, now):
        found.setdefault(share.node_id, []).append(share)
    return found


def dead_properties_by_node(
    session: Session, folder_id: int, *, with_children: bool
) -> dict[int, dict[str, str]]:
    """Dead properties of the folder (and of its live children), by node then name."""
    found: dict[int, dict[str, str]] = {}
    for node_id, name, value in listing_repo.dead_properties(
        session, folder_id, with_children=with_children
    ):
        found.setdefault(node_id, {})[name] = value
    return found


def checksums_by_version(session: Session, folder_id: int) -> dict[int, str]:
    """``SHA1:… MD5:…`` of the live child files' current versions, by version id."""
    return {
        version_id: f"SHA1:{sha1} MD5:{md5}"
        for version_id, sha1, md5 in listing_repo.checksums_of_children(session, folder_id)
    }


def row_of(node: Node, clearance: int) -> Child:
    """The listed resource itself (a ``Node`` found already) as a row of
    ``listing_repo.children``."""
    return Row(
        id=node.id,
        name=node.name,
        kind=node.kind,
        classification=node.classification,
        size=node.size,
        content_type=node.content_type,
        current_version_id=node.current_version_id,
        created=node.created_at,
        modified=stamps.modified_seen(node, clearance),
        etag=stamps.etag_seen(node, clearance),
    )


class Row(NamedTuple):
    id: int
    name: str
    kind: str
    classification: int
    size: int
    content_type: str | None
    current_version_id: int | None
    created: dt.datetime | str
    modified: dt.datetime | str
    etag: str
