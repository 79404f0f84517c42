"""Reading the log out: JSON lines for a SIEM, and a filtered, paginated query for admins."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from polaris.audit import repo
from polaris.audit.anchor import checkpoint_document
from polaris.audit.encoding import RECORD_FIELDS, canonical_json, format_time
from polaris.audit.models import AuditRecord

EXPORT_BATCH_SIZE = 2000
MAX_QUERY_LIMIT = 500


def export_jsonl(
    *,
    session: Session,
    out: TextIO,
    since_seq: int | None = None,
    until: dt.datetime | None = None,
    checkpoints: bool = True,
) -> int:
    """Write sealed records with seq > ``since_seq`` and ``at`` < ``until`` as JSON lines; the
    number of records.

    Each line is one canonical JSON object with every column; ``at`` as in the hash encoding and
    ``detail`` parsed (its canonical re-encoding is the hashed text). With ``checkpoints``, each
    signed checkpoint follows the record it covers, as a line with ``"kind": "checkpoint"``
    (``anchor.checkpoint_document``): the export then carries its own proof, and can serve as an
    anchor for ``verify --anchor``. Unsealed records are not exported: they have no place in the
    chain yet (the next export after the sealer ran has them).
    """
    count = 0
    cursor = 0 if since_seq is None else since_seq
    while rows := repo.record_rows(session, after_seq=cursor, limit=EXPORT_BATCH_SIZE, until=until):
        marks: dict[int, dict[str, Any]] = {}
        if checkpoints:
            for mark in repo.checkpoint_rows(
                session, after_seq=cursor, until_seq=rows[-1]["seq"], limit=len(rows)
            ):
                marks[mark["seq"]] = mark
        for row in rows:
            out.write(canonical_json(export_document(row)) + "\n")
            if row["seq"] in marks:
                out.write(canonical_json(checkpoint_document(marks[row["seq"]])) + "\n")
        count += len(rows)
        cursor = rows[-1]["seq"]
    return count


def export_document(row: Mapping[str, Any]) -> dict[str, Any]:
    document = {name: row[name] for name in (*RECORD_FIELDS, "hash", "hash_version")}
    document["at"] = format_time(row["at"])
    document["detail"] = None if row["detail"] is None else json.loads(row["detail"])
    return document


@dataclass(frozen=True)
class RecordFilter:
    """What ``query`` and ``export_filtered`` select: every given field must match.

    ``action`` ending in ``.*`` matches a prefix (``"auth.*"``); ``since`` is inclusive and
    ``until`` exclusive.
    """

    actor_id: int | str | None = None
    unit_id: int | str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: int | str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    #: Actions left out (the administration page hides searches unless asked).
    exclude_actions: tuple[str, ...] = ()

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.exclude_actions:
            conditions.append(AuditRecord.action.notin_(self.exclude_actions))
        if self.actor_id is not None:
            conditions.append(AuditRecord.actor_id == str(self.actor_id))
        if self.unit_id is not None:
            conditions.append(AuditRecord.unit_id == str(self.unit_id))
        if self.action is not None and self.action.endswith(".*"):
            conditions.append(AuditRecord.action.startswith(self.action[:-1], autoescape=True))
        elif self.action is not None:
            conditions.append(AuditRecord.action == self.action)
        if self.object_type is not None:
            conditions.append(AuditRecord.object_type == self.object_type)
        if self.object_id is not None:
            conditions.append(AuditRecord.object_id == str(self.object_id))
        if self.since is not None:
            conditions.append(AuditRecord.at >= self.since)
        if self.until is not None:
            conditions.append(AuditRecord.at < self.until)
        return conditions


def query(
    *,
    session: Session,
    actor_id: int | str | None = None,
    unit_id: int | str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditRecord]:
    """Records matching every given filter (see ``RecordFilter``), newest (highest id) first,
    unsealed ones included (their ``seq`` is ``None``).

    For the next page pass the last record's id as ``before_id``.
    """
    where = RecordFilter(
        actor_id=actor_id,
        unit_id=unit_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
    )
    return find(session=session, where=where, before_id=before_id, limit=limit)


def find(
    *, session: Session, where: RecordFilter, before_id: int | None = None, limit: int = 50
) -> list[AuditRecord]:
    """``query`` with its filters as one ``RecordFilter``."""
    limit = max(1, min(limit, MAX_QUERY_LIMIT))
    return repo.find_records(
        session, conditions=where.conditions(), before_id=before_id, limit=limit
    )


#: The columns of a CSV export: the JSON lines' fields, in column order.
CSV_FIELDS = (*RECORD_FIELDS, "hash", "hash_version")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_filtered(
    *, session: Session, out: TextIO, where: RecordFilter, fmt: Literal["jsonl", "csv"] = "jsonl"
) -> int:
    """Write the sealed records matching ``where`` in seq order, streamed in batches; the count.

    ``jsonl`` lines are exactly those of ``export_jsonl`` (a SIEM can recompute each hash).
    ``csv`` is for reading in a spreadsheet: ``detail`` as its JSON text, and a text cell that a
    spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``) gets a leading
    ``'``, so a hostile user agent or name cannot run in the reader's spreadsheet. Hashes are
    recomputed from the JSON lines, not from the CSV.
    """
    writer = None
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_FIELDS)
    conditions = where.conditions()
    count = 0
    cursor = 0
    while rows := repo.filtered_rows(
        session, conditions=conditions, after_seq=cursor, limit=EXPORT_BATCH_SIZE
    ):
        for row in rows:
            document = export_document(row)
            if writer is None:
                out.write(canonical_json(document) + "\n")
            else:
                writer.writerow(_csv_cell(document, name) for name in CSV_FIELDS)
        count += len(rows)
        cursor = rows[-1]["seq"]
    return count


def _csv_cell(document: Mapping[str, Any], name: str) -> str:
    value = document[name]
    if value is None:
        return ""
    if name == "detail":
        value = canonical_json(value)
    text = str(value)
    if isinstance(document[name], str | dict | list) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text
