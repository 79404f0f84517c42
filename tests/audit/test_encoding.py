"""The canonical encoding: stable, versioned, UTC with microseconds."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

from polaris.audit.encoding import (
    GENESIS_HASH,
    RECORD_FIELDS,
    UnknownHashVersionError,
    canonical_json,
    checkpoint_message,
    format_time,
    record_hash,
)

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def fields(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    values.update(
        seq=1,
        at=dt.datetime(2025, 1, 31, 9, 15, 2, tzinfo=dt.UTC),
        action="auth.login",
        decision="allow",
        prev_hash=GENESIS_HASH,
    )
    return values | changes


def test_times_are_utc_with_six_fraction_digits() -> None:
    assert format_time(dt.datetime(2025, 1, 31, 14, 45, 2, tzinfo=IST)) == (
        "2025-01-31T09:15:02.000000Z"
    )
    assert format_time(dt.datetime(5, 1, 1, 0, 0, 0, 7, tzinfo=dt.UTC)) == (
        "0005-01-01T00:00:00.000007Z"
    )
    with pytest.raises(ValueError, match="naive"):
        format_time(dt.datetime(2025, 1, 31))


def test_canonical_json_is_sorted_compact_and_utf8() -> None:
    assert canonical_json({"b": 1, "a": ["नाम", None]}) == '{"a":["नाम",null],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("inf")})


def test_the_record_hash_covers_every_field_and_ignores_the_zone() -> None:
    base = record_hash(fields())
    assert len(base) == 64
    assert record_hash(fields(at=dt.datetime(2025, 1, 31, 14, 45, 2, tzinfo=IST))) == base
    for name in RECORD_FIELDS:
        if name == "seq":
            assert record_hash(fields(seq=2)) != base
        elif name == "at":
            later = fields()["at"] + dt.timedelta(microseconds=1)
            assert record_hash(fields(at=later)) != base
        else:
            assert record_hash(fields(**{name: "x"})) != base, name
    assert record_hash(fields(reason="")) != record_hash(fields(reason=None))
    assert record_hash(fields(hash="ignored", extra="ignored")) == base


def test_the_record_hash_is_the_documented_bytes() -> None:
    """Changing the encoding breaks every stored chain: add a HASH_VERSION instead."""
    document = (
        '{"action":"auth.login","actor_id":null,"actor_name":null,"actor_role":null,'
        '"at":"2025-01-31T09:15:02.000000Z","auth_factors":null,"classification":null,'
        '"client":null,"decision":"allow","detail":null,"object_id":null,"object_type":null,'
        f'"prev_hash":"{GENESIS_HASH}","reason":null,"request_id":null,"seq":1,'
        '"session_hash":null,"source_address":null,"unit_id":null,"v":1,"version_hash":null}'
    )
    expected = hashlib.sha256(b"polaris.audit.record.v1\n" + document.encode()).hexdigest()
    assert record_hash(fields()) == expected == PINNED


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(UnknownHashVersionError):
        record_hash(fields(), hash_version=2)


def test_the_checkpoint_message_is_domain_separated() -> None:
    at = dt.datetime(2025, 1, 31, 9, 15, 2, tzinfo=dt.UTC)
    message = checkpoint_message(seq=3, hash="ab" * 32, at=at, key_id="k")
    assert message.startswith(b"polaris.audit.checkpoint.v1\n")
    assert b'"at":"2025-01-31T09:15:02.000000Z"' in message


PINNED = "7e04f179041be944d8318a2a3d4542a4a6ef9dc352645265ad26d52c5d1ffed5"
