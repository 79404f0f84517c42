"""The hash-chain encoding of audit records and checkpoints (format version 1).

Terms
    *record hash*: ``SHA-256(RECORD_DOMAIN || canonical_json(fields))``, lower-case hex (64 chars).
    *fields*: every column of ``audit_record`` except ``hash`` itself, under its column name:
    ``seq, at, actor_id, actor_name, actor_role, unit_id, auth_factors, session_hash,
    source_address, client, action, object_type, object_id, version_hash, classification,
    decision, reason, request_id, detail, prev_hash``, plus ``"v": <hash_version>``.
    *canonical JSON*: ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False)`` encoded as UTF-8. Absent values are JSON ``null`` (distinct from ``""``).
    ``seq`` and ``v`` are JSON integers, every other field a string or ``null``.

Values, so that the hash recomputes identically from SQLite and PostgreSQL:
    - ``at`` is written as UTC ISO-8601 with exactly six fractional digits and a ``Z``
      (``2025-01-31T09:15:02.123456Z``). Python datetimes carry microseconds; SQLite (text) and
      PostgreSQL (``timestamptz``) both store microseconds exactly, so nothing is rounded.
    - ``detail`` is stored *as its canonical JSON text* and enters the hash as that string, never
      re-serialised from a database JSON type (PostgreSQL ``jsonb`` would renormalise numbers and
      key order). Readers parse it; re-encoding the parsed value canonically gives the same text.
    - Identifiers (actor, unit, object ids) are stored and hashed as strings.
    - ``prev_hash`` of seq 1 is ``GENESIS_HASH`` (64 zeros).

Checkpoint signature: Ed25519 over ``CHECKPOINT_DOMAIN || canonical_json({"at", "hash",
"key_id", "seq", "v"})`` with ``at`` formatted as above; stored as lower-case hex (128 chars).
Checkpoint version 2 adds ``"prev_seq"`` and ``"prev_hash"`` to the signed document: the seq and
hash of the checkpoint before it (``0`` and ``GENESIS_HASH`` for the first), so checkpoints form a
chain of their own and a deleted one leaves a gap that the next one names.

The domain prefixes keep a record hash from ever being mistaken for a checkpoint message.

Changelog
    1 (2025): first version.
    Checkpoint version 2 (2026): checkpoints name their predecessor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

HASH_VERSION = 1
GENESIS_HASH = "0" * 64
RECORD_DOMAIN = b"polaris.audit.record.v1\n"
CHECKPOINT_DOMAIN = b"polaris.audit.checkpoint.v1\n"
CHECKPOINT_VERSION = 2

#: Every hashed field, in column order (the JSON itself is key-sorted).
RECORD_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "actor_role",
    "unit_id",
    "auth_factors",
    "session_hash",
    "source_address",
    "client",
    "action",
    "object_type",
    "object_id",
    "version_hash",
    "classification",
    "decision",
    "reason",
    "request_id",
    "detail",
    "prev_hash",
)


class UnknownHashVersionError(ValueError):
    """A record claims an encoding version this code does not know."""


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def format_time(at: dt.datetime) -> str:
    """UTC ISO-8601 with microseconds and ``Z``; refuses naive datetimes."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in the audit log")
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def record_hash(fields: Mapping[str, Any], *, hash_version: int = HASH_VERSION) -> str:
    """The hash of one record from its field values (a row mapping or a dict)."""
    if hash_version != HASH_VERSION:
        raise UnknownHashVersionError(f"unknown audit hash version {hash_version}")
    document: dict[str, Any] = {name: fields[name] for name in RECORD_FIELDS}
    document["at"] = format_time(fields["at"])
    document["v"] = hash_version
    payload = canonical_json(document).encode("utf-8")
    return hashlib.sha256(RECORD_DOMAIN + payload).hexdigest()


def checkpoint_message(
    *,
    seq: int,
    hash: str,
    at: dt.datetime,
    key_id: str,
    version: int = 1,
    prev_seq: int | None = None,
    prev_hash: str | None = None,
) -> bytes:
    """The signed bytes of a checkpoint; version 2 includes its predecessor."""
    document: dict[str, Any] = {
        "at": format_time(at),
        "hash": hash,
        "key_id": key_id,
        "seq": seq,
        "v": version,
    }
    if version == CHECKPOINT_VERSION:
        if prev_seq is None or prev_hash is None:
            raise ValueError("a version 2 checkpoint names its predecessor")
        document.update(prev_seq=prev_seq, prev_hash=prev_hash)
    elif version != 1:
        raise UnknownHashVersionError(f"unknown checkpoint version {version}")
    return CHECKPOINT_DOMAIN + canonical_json(document).encode("utf-8")
