"""Checkpoints kept outside the database, and comparing them with the database's.

An intruder who can write to the database can cut the end of the log (records, checkpoints and
head together) and the database alone cannot show it. A copy of each checkpoint kept elsewhere
can: the sealer appends every new checkpoint as one JSON line to ``audit_anchor_file`` (ideally
on another machine or an append-only mount) and logs the same line to the ``polaris.audit.anchor``
logger (route it to syslog), and ``polaris audit export`` writes the same lines among the records.
``polaris audit verify --anchor FILE`` then requires every checkpoint in FILE to be in the
database, unchanged.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from polaris.audit import repo
from polaris.audit.chain import FindingKind, FindingSink
from polaris.audit.encoding import canonical_json, format_time
from polaris.audit.models import AuditCheckpoint

log = logging.getLogger("polaris.audit.anchor")

KIND = "checkpoint"
#: The fields compared between an anchored checkpoint and the database's.
_COMPARED = ("hash", "at", "key_id", "signature", "v", "prev_seq", "prev_hash")
COMPARE_BATCH = 1000


class AnchorError(ValueError):
    """The anchor file cannot be read, or a line of it is not a checkpoint."""


_COLUMNS = ("seq", "hash", "at", "key_id", "signature", "version", "prev_seq", "prev_hash")


def checkpoint_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint row as the JSON object exported and anchored."""
    return {
        "kind": KIND,
        "seq": row["seq"],
        "hash": row["hash"],
        "at": format_time(row["at"]),
        "key_id": row["key_id"],
        "signature": row["signature"],
        "v": row["version"],
        "prev_seq": row["prev_seq"],
        "prev_hash": row["prev_hash"],
    }


def anchor_line(checkpoint: AuditCheckpoint) -> str:
    row = {name: getattr(checkpoint, name) for name in _COLUMNS}
    return canonical_json(checkpoint_document(row))


def publish(checkpoint: AuditCheckpoint, path: Path | None) -> None:
    """Log the checkpoint's line and append it to ``path`` (when set), synced to disk.

    Called after the sealing transaction committed; an error is logged, never raised, so a full
    anchor disk does not stop sealing (``verify --anchor`` shows the missing line as nothing
    worse than a checkpoint not anchored).
    """
    line = anchor_line(checkpoint)
    log.info("%s", line)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        log.error("could not append checkpoint %s to %s: %s", checkpoint.seq, path, error)


def read_anchor(path: Path) -> Iterator[dict[str, Any]]:
    """The checkpoint lines of an anchor file or an export (record lines are skipped)."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise AnchorError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except ValueError as exc:
                raise AnchorError(f"{path}:{number} is not JSON") from exc
            if not isinstance(document, dict):
                raise AnchorError(f"{path}:{number} is not a JSON object")
            if document.get("kind") != KIND:
                continue
            if not isinstance(document.get("seq"), int):
                raise AnchorError(f"{path}:{number} has no checkpoint seq")
            yield document


def compare(session: Session, anchored: Iterable[Mapping[str, Any]], sink: FindingSink) -> int:
    """Check every anchored checkpoint against the database; the number compared."""
    count = 0
    batch: list[Mapping[str, Any]] = []
    for document in anchored:
        batch.append(document)
        if len(batch) == COMPARE_BATCH:
            count += _compare_batch(session, batch, sink)
            batch = []
    return count + _compare_batch(session, batch, sink)


def _compare_batch(session: Session, batch: list[Mapping[str, Any]], sink: FindingSink) -> int:
    stored = repo.checkpoints_at(session, [document["seq"] for document in batch])
    for document in batch:
        seq = document["seq"]
        row = stored.get(seq)
        if row is None:
            sink(
                FindingKind.ANCHOR_MISSING,
                seq,
                f"checkpoint {seq}, kept outside the database, is not in it: the log was cut "
                "back or the checkpoint deleted",
            )
            continue
        ours = checkpoint_document(row)
        changed = [name for name in _COMPARED if ours[name] != document.get(name)]
        if changed:
            sink(
                FindingKind.ANCHOR_MISMATCH,
                seq,
                f"checkpoint {seq} differs from the copy kept outside the database "
                f"({', '.join(changed)})",
            )
    return len(batch)


__all__ = ["AnchorError", "anchor_line", "checkpoint_document", "compare", "publish", "read_anchor"]
