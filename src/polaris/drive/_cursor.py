"""Listing cursors: where a page of a folder ended, in the order it was sorted by."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any, Literal

from polaris.drive import stamps
from polaris.drive.models import FILE, Node
from polaris.errors import ValidationFailed

SortField = Literal["name", "modified", "size"]


def encode_cursor(node: Node, sort: SortField, clearance: int) -> str:
    value: Any = {
        "name": node.sort_name,
        "modified": stamps.modified_seen(node, clearance).isoformat(),
        "size": node.size,
    }[sort]
    raw = json.dumps([sort, node.kind == FILE, value, node.id], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortField) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, is_file, value, node_id = json.loads(raw)
        if kind != sort or not isinstance(is_file, bool) or not isinstance(node_id, int):
            raise ValueError("cursor does not match the sort")
        if sort == "modified":
            value = dt.datetime.fromisoformat(value)
        elif sort == "size" and not isinstance(value, int):
            raise ValueError("bad size")
        elif sort == "name" and not isinstance(value, str):
            raise ValueError("bad name")
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("invalid cursor", code="invalid_cursor") from exc
    return [is_file, value, node_id]
