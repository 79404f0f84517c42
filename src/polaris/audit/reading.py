"""Reading the log out: JSON lines for a SIEM, and a filtered, paginated query for admins."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, TextIO

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from polaris.audit import repo
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
) -> int:
    """Write records with seq > ``since_seq`` and ``at`` < ``until`` as JSON lines; the count.

    Each line is one canonical JSON object with every column; ``at`` as in the hash encoding and
    ``detail`` parsed (its canonical re-encoding is the hashed text).
    """
    count = 0
    cursor = 0 if since_seq is None else since_seq
    while rows := repo.record_rows(session, after_seq=cursor, limit=EXPORT_BATCH_SIZE, until=until):
        out.writelines(canonical_json(export_document(row)) + "\n" for row in rows)
        count += len(rows)
        cursor = rows[-1]["seq"]
    return count


def export_document(row: Mapping[str, Any]) -> dict[str, Any]:
    document = {name: row[name] for name in (*RECORD_FIELDS, "hash", "hash_version")}
    document["at"] = format_time(row["at"])
    document["detail"] = None if row["detail"] is None else json.loads(row["detail"])
    return document


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
    before_seq: int | None = None,
    limit: int = 50,
) -> list[AuditRecord]:
    """Records matching every given filter, newest first.

    ``action`` ending in ``.*`` matches a prefix (``"auth.*"``); ``since`` is inclusive and
    ``until`` exclusive. For the next page pass the last record's seq as ``before_seq``.
    """
    conditions: list[ColumnElement[bool]] = []
    if actor_id is not None:
        conditions.append(AuditRecord.actor_id == str(actor_id))
    if unit_id is not None:
        conditions.append(AuditRecord.unit_id == str(unit_id))
    if action is not None and action.endswith(".*"):
        conditions.append(AuditRecord.action.startswith(action[:-1], autoescape=True))
    elif action is not None:
        conditions.append(AuditRecord.action == action)
    if object_type is not None:
        conditions.append(AuditRecord.object_type == object_type)
    if object_id is not None:
        conditions.append(AuditRecord.object_id == str(object_id))
    if since is not None:
        conditions.append(AuditRecord.at >= since)
    if until is not None:
        conditions.append(AuditRecord.at < until)
    limit = max(1, min(limit, MAX_QUERY_LIMIT))
    return repo.find_records(session, conditions=conditions, before_seq=before_seq, limit=limit)
