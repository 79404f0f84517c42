"""Stored node names that today's rules refuse are repaired

``drive.names`` refuses invisible and control characters and Unicode's noncharacters at input,
but names stored before a rule existed kept them. Such a name broke WebDAV: XML cannot hold
U+FFFE, U+FFFF or a control character, so listing the folder answered 500, and the file could
not be reached by its path either (a path is checked against the same rules, so it answered
404). Each such name becomes what ``drive.names.repair_name`` makes of it (each refused
character ``_``: the rule is restated here as it stands today, since a migration must not
change with later code and ``db`` may not import a domain), numbered "name (2).ext" when a live sibling has that name already; its ETags
and those of its folders are renewed at every level, so that sync clients list the folder again.

Nothing is lost: the content and the versions stay with the node (its id does not change), and
the manifests keep the name the file was uploaded with. The downgrade leaves the names repaired.

Revision ID: 20261207_0031
Revises: 20261207_0030
Create Date: 2026-12-07 11:20:00
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata

import sqlalchemy as sa
from alembic import op

from polaris.db.base import UTCDateTime

revision = "20261207_0031"
down_revision = "20261207_0030"
branch_labels = None
depends_on = None

MAX_NAME_BYTES = 255
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
JOINERS = frozenset("\u200c\u200d")
#: Rows read at a time: a state's drive has millions of nodes; their names are checked here.
BATCH = 5000
STAMPS = ("etag", "etag_unclassified", "etag_restricted", "etag_confidential")
TIMES = (
    "modified_at",
    "modified_at_unclassified",
    "modified_at_restricted",
    "modified_at_confidential",
)

node = sa.table(
    "node",
    sa.column("id", sa.Integer),
    sa.column("parent_id", sa.Integer),
    sa.column("path", sa.String),
    sa.column("name", sa.String),
    sa.column("sort_name", sa.String),
    sa.column("trashed_at", UTCDateTime),
    *(sa.column(name, sa.String) for name in STAMPS),
    *(sa.column(name, UTCDateTime) for name in TIMES),
)


def _refused(char: str) -> bool:
    """``drive.names.refused`` as of this migration."""
    if unicodedata.category(char) in REFUSED_CATEGORIES:
        return char not in JOINERS
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _needs_repair(name: str) -> bool:
    return any(_refused(char) for char in name)


def _repaired(name: str) -> str:
    """``drive.names.repair_name`` as of this migration, for a name whose only fault is a
    refused character (the others, ``/``, emptiness and length, were refused from the start)."""
    fixed = "".join("_" if _refused(char) else char for char in unicodedata.normalize("NFC", name))
    return fixed if fixed.strip() else "unnamed"


def _numbered(name: str, number: int) -> str:
    """ "name (2).ext", its stem shortened until it fits in a name's bytes."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    suffix = f" ({number})" + (f".{ext}" if ext else "")
    while stem[:-1] and len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def _free_name(connection: sa.Connection, parent_id: int | None, wanted: str) -> str:
    """``wanted``, or the first "wanted (n)" no live sibling has."""
    taken = set(
        connection.scalars(
            sa.select(node.c.name).where(node.c.parent_id == parent_id, node.c.trashed_at.is_(None))
        )
    )
    candidate, number = wanted, 1
    while candidate in taken:
        number += 1
        candidate = _numbered(wanted, number)
    return candidate


def upgrade() -> None:
    connection = op.get_bind()
    broken: list[tuple[int, int | None, str, str, bool]] = []
    after = 0
    while True:
        rows = connection.execute(
            sa.select(node.c.id, node.c.parent_id, node.c.name, node.c.path, node.c.trashed_at)
            .where(node.c.id > after)
            .order_by(node.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        after = rows[-1].id
        broken += [
            (row.id, row.parent_id, row.name, row.path, row.trashed_at is None)
            for row in rows
            if _needs_repair(row.name)
        ]
    now = dt.datetime.now(dt.UTC)
    for node_id, parent_id, name, path, live in broken:
        fixed = _repaired(name)
        # A trashed node keeps no claim on its name; it is checked again when it is restored.
        fixed = _free_name(connection, parent_id, fixed) if live else fixed
        connection.execute(
            sa.update(node)
            .where(node.c.id == node_id)
            .values(name=fixed, sort_name=fixed.casefold())
        )
        ids = [int(part) for part in path.strip("/").split("/") if part]
        etag = secrets.token_hex(8)
        connection.execute(
            sa.update(node)
            .where(node.c.id.in_(ids))
            .values(**dict.fromkeys(STAMPS, etag), **dict.fromkeys(TIMES, now))
        )


def downgrade() -> None:
    """The repaired names stay: the old ones could not be listed or reached over WebDAV."""
